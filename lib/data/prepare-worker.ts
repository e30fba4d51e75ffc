// The loader's worker thread for the embedded dataset: paints scenes and prepares batches off the
// main thread, whose time goes to the step's native calls. Loads no native code.
import { parentPort, workerData } from 'node:worker_threads';
import { prepareBatch, type Prepared, type PrepareOptions } from './prepare.js';
import { SyntheticDataset, type SyntheticOptions } from './synthetic.js';

export interface WorkerRequest {
  k: number;
  indices: number[];
}

export type WorkerReply = { k: number; prepared: Prepared } | { k: number; error: string };

const { dataset: datasetOptions, prepare } = workerData as { dataset: SyntheticOptions; prepare: PrepareOptions };
const dataset = new SyntheticDataset(datasetOptions);
parentPort!.on('message', ({ k, indices }: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { k, prepared: prepareBatch(indices.map((i) => dataset.sample(i)), indices, k, prepare) };
  } catch (err) {
    reply = { k, error: (err as Error).message };
  }
  parentPort!.postMessage(reply, 'prepared' in reply ? [reply.prepared.image.buffer as ArrayBuffer, reply.prepared.label.buffer as ArrayBuffer] : []);
});
