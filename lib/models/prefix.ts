// DataParallel's `module.` key prefix, which official checkpoints may carry.
import type { StateDict } from '../nn/index.js';

/**
 * Removes DataParallel's `module.` prefix when every key carries it (as torch.save of a wrapped
 * model writes them); otherwise returns the dict unchanged. The tensors are not copied.
 */
export function stripModulePrefix(dict: StateDict): StateDict {
  const keys = Object.keys(dict);
  if (keys.length === 0 || !keys.every((k) => k.startsWith('module.'))) return dict;
  return Object.fromEntries(keys.map((k) => [k.slice('module.'.length), dict[k]]));
}
