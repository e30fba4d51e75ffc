// The --device flag of train, eval, predict and bench: 'cpu' or 'cuda' (default: ANN_SEG_DEVICE,
// else 'cpu'), refused up front with the reason when CUDA cannot be used here.
import { unavailableReason } from '../cuda.js';
import { defaultDevice, parseDevice, type Device } from '../device.js';
import { stringOption, UsageError, type Parsed } from './args.js';

export const DEVICE_OPTION = { device: { type: 'string' } } as const;

export const DEVICE_HELP = `  --device       cpu or cuda (default: ANN_SEG_DEVICE, else cpu)`;

export function deviceFlag(values: Parsed['values']): Device {
  const given = stringOption(values, 'device');
  let device: Device;
  try {
    device = given === undefined ? defaultDevice() : parseDevice('--device', given);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (device === 'cuda') {
    const why = unavailableReason();
    if (why !== null) throw new UsageError(`${given === undefined ? 'ANN_SEG_DEVICE=cuda' : '--device cuda'}: CUDA is unavailable here (${why})`);
  }
  return device;
}
