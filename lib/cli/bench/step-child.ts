// Child-process entry of `ann-seg bench step` (see child.ts): measures the step given as JSON in
// argv[2] and prints the measurement as one JSON line.
import type { MedianOptions } from './timing.js';
import { measureStep, type StepCase } from './step.js';

const { stepCase, timing } = JSON.parse(process.argv[2]) as { stepCase: StepCase; timing: MedianOptions };
console.log(JSON.stringify(measureStep(stepCase, timing)));
