// Child process for test/loader.test.ts: loads the addon from the package folder given, as lib/native/index.ts
// does, with the given files standing for the NVIDIA driver, and prints where it came from.
import { loadAddon } from '../../lib/native/loader.js';

const [root, ...driverFiles] = process.argv.slice(2);
const { binding, origin } = loadAddon<{ info(): { cuda: string } }>({ root, driverFiles });
process.stdout.write(JSON.stringify({ origin, cuda: binding.info().cuda }));
