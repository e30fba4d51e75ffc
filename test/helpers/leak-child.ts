// Run by test/leaks.test.ts in a child process with ANN_SEG_DEBUG_LEAKS=1 and --expose-gc: one
// tensor is forgotten, one disposed; the registry must report only the forgotten one.
import { tensor } from '../../lib/tensor.js';

function forget(): void {
  tensor([1, 2, 3], [3]);
}

function disposeProperly(): void {
  tensor([4, 5], [2]).dispose();
}

forget();
disposeProperly();
for (let i = 0; i < 20; i++) {
  global.gc!();
  await new Promise((resolve) => setTimeout(resolve, 10));
}
