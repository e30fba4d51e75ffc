// ANN's blocks (issue 4): APNB and AFNB as the official code, their non-local baselines and the
// common fusion of the paper's Table 6; the files under ./blocks/.
export { APNB, NonLocal } from './blocks/self.js';
export type { APNBOptions, NonLocalOptions } from './blocks/self.js';
export { AFNB, FusionNonLocal, CommonFusion } from './blocks/fusion.js';
export type { AFNBOptions, FusionNonLocalOptions, CommonFusionOptions } from './blocks/fusion.js';
export { AttentionStage } from './blocks/attention.js';
export type { Trace } from './blocks/attention.js';
export { SAMPLINGS, DEFAULT_SIZES } from './blocks/sampling.js';
export type { Sampling } from './blocks/sampling.js';
