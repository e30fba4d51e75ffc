// Child-process entry of `ann-seg bench blocks`: measures the one case given as JSON in argv[2]
// and prints the measurement as one JSON line. A fresh process per case keeps the memory
// high-water marks (native peakBytes, max RSS) to that case alone.
import type { BlockCase } from './blocks-cases.js';
import { measureCase, type MeasureOptions } from './blocks-measure.js';

const { blockCase, options } = JSON.parse(process.argv[2]) as { blockCase: BlockCase; options: MeasureOptions };
console.log(JSON.stringify(measureCase(blockCase, options)));
