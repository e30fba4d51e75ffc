// The Asymmetric Non-local Network (MendelXu/ANN's asymmetric_non_local_network) and its Table 6
// ablations. Submodules carry the official names, registered in the official order, so the
// depth-101 19-class 'full' model's state dict is the official checkpoint's key for key:
//   backbone (dilated ResNet) -> stage4, stage5
//   fusion   AFNB(stage4, stage5)                        [absent in 'baseline', 'nb', 'apnb']
//   context  conv3x3 + BN-ReLU (+ APNB / NB as context.2)
//   cls      conv1x1 -> classes;   dsn: the aux head on stage4
import { interpolate } from '../ops/interp.js';
import * as nn from '../nn/index.js';
import type { Tensor } from '../tensor.js';
import { stripModulePrefix } from './prefix.js';
import { resolveConfig, VARIANT_PARTS, type ANNConfig, type ResolvedANNConfig } from './config.js';

/** Both logits at the input's size: `aux` from the dsn head on Stage4, `main` from the classifier. */
export interface ANNOutput {
  aux: Tensor;
  main: Tensor;
}

/** The network's output stride (the backbone's): inputs must be at least this large on each side. */
export const OUTPUT_STRIDE = nn.OUTPUT_STRIDE;

/** A fusion block: Stage4 (low) and Stage5 (high) in, a Stage5-shaped tensor out. */
type Fusion = nn.AFNB | nn.FusionNonLocal | nn.CommonFusion;

function conv(inChannels: number, outChannels: number, kernelSize: 1 | 3, seed: number | undefined): nn.Conv2d {
  return new nn.Conv2d({ inChannels, outChannels, kernelSize, padding: kernelSize === 3 ? 1 : 0, bias: true, seed });
}

/** The official ModuleHelper.BNReLU: Sequential(BN, ReLU), hence the `.1.0` in `dsn.1.0.weight`. */
function bnRelu(channels: number): nn.Sequential {
  return new nn.Sequential(new nn.BatchNorm2d(channels), new nn.ReLU());
}

/**
 * The ANN network as an nn.Module; build it with models.ANN(config). forward(x [B, 3, H, W]) gives
 * { aux, main } logits [B, numClasses, H, W], both upsampled bilinearly with align_corners=True.
 */
export class ANNModel extends nn.Module<[Tensor], ANNOutput> {
  readonly #config: ResolvedANNConfig;
  readonly backbone: nn.DilatedResNet;
  readonly fusion: Fusion | null;
  readonly context: nn.Sequential;
  readonly cls: nn.Conv2d;
  readonly dsn: nn.Sequential;

  constructor(config: ANNConfig = {}) {
    super();
    const c = resolveConfig(config);
    this.#config = c;
    const parts = VARIANT_PARTS[c.variant];
    // Each part draws from its own seed, so adding a block leaves the others' initial values alone.
    const seed = (k: number) => (c.seed === undefined ? undefined : c.seed + k);
    const block = { keyChannels: c.keyChannels, valueChannels: c.valueChannels, dropout: c.dropout };
    const pyramid = { sizes: c.sizes, sampling: c.sampling };

    this.backbone = this.registerModule('backbone', new nn.DilatedResNet({ depth: c.depth, width: c.width, seed: seed(0) }));
    const low = this.backbone.stage4Channels;
    const high = this.backbone.stage5Channels;
    const fusionOptions = { lowChannels: low, highChannels: high, outChannels: high, ...block, seed: seed(1) };
    this.fusion = this.registerModule(
      'fusion',
      parts.fusion === 'afnb'
        ? new nn.AFNB({ ...fusionOptions, ...pyramid })
        : parts.fusion === 'fnb'
          ? new nn.FusionNonLocal(fusionOptions)
          : parts.fusion === 'common'
            ? new nn.CommonFusion({ lowChannels: low, highChannels: high, seed: seed(1) })
            : null,
    );

    const ctx = c.contextChannels;
    this.context = this.registerModule('context', new nn.Sequential(conv(high, ctx, 3, seed(2)), bnRelu(ctx)));
    const contextOptions = { inChannels: ctx, outChannels: ctx, ...block, seed: seed(3) };
    if (parts.context === 'apnb') this.context.append(new nn.APNB({ ...contextOptions, ...pyramid }));
    else if (parts.context === 'nb') this.context.append(new nn.NonLocal(contextOptions));

    this.cls = this.registerModule('cls', conv(ctx, c.numClasses, 1, seed(4)));
    this.dsn = this.registerModule(
      'dsn',
      new nn.Sequential(
        conv(low, c.auxChannels, 3, seed(5)),
        bnRelu(c.auxChannels),
        new nn.Dropout2d(c.auxDropout),
        conv(c.auxChannels, c.numClasses, 1, seed(6)),
      ),
    );
  }

  /** As nn.Module's, also accepting the official checkpoints' DataParallel `module.` prefix on every key. */
  override loadStateDict(dict: nn.StateDict, options?: nn.LoadStateDictOptions): nn.LoadStateDictResult {
    return super.loadStateDict(stripModulePrefix(dict), options);
  }

  /** A copy of the resolved config (every default filled in); JSON in, JSON out. */
  get config(): ResolvedANNConfig {
    return structuredClone(this.#config);
  }

  /** The context block (APNB or NB) when the variant has one. */
  get contextBlock(): nn.APNB | nn.NonLocal | null {
    return this.context.length > 2 ? (this.context.at(2) as nn.APNB | nn.NonLocal) : null;
  }

  #checkInput(x: Tensor): void {
    const s = x.shape;
    const where = `ANN (${this.#config.variant}, depth ${this.#config.depth}): input ${JSON.stringify(s)}`;
    if (s.length !== 4) throw new Error(`${where} must be 4-D [B, 3, H, W]`);
    if (s[1] !== 3) throw new Error(`${where} must have 3 channels (BGR), got ${s[1]}`);
    if (s[2] < OUTPUT_STRIDE || s[3] < OUTPUT_STRIDE)
      throw new Error(`${where} is smaller than the network's output stride ${OUTPUT_STRIDE} (H and W must be >= ${OUTPUT_STRIDE})`);
    if (x.dtype !== 'float32') throw new Error(`${where} must be float32, got ${x.dtype}`);
  }

  /**
   * The logits before upsampling, [B, numClasses, h, w] at the output stride: the official forward
   * without its last step (for inference that upsamples once over tiles, and for tests).
   */
  forwardLogits(x: Tensor): ANNOutput {
    this.#checkInput(x);
    const { stage4, stage5 } = this.backbone.call(x);
    // The official order: the aux head first, then fusion, context and classifier.
    const aux = this.dsn.call(stage4);
    const fused = this.fusion ? this.fusion.call(stage4, stage5) : stage5;
    return { aux, main: this.cls.call(this.context.call(fused)) };
  }

  forward(x: Tensor): ANNOutput {
    const { aux, main } = this.forwardLogits(x);
    const size: [number, number] = [x.shape[2], x.shape[3]];
    return {
      aux: interpolate(aux, { size, alignCorners: true }),
      main: interpolate(main, { size, alignCorners: true }),
    };
  }
}

/** Builds the ANN network (no `new` needed): `models.ANN({ depth: 50, variant: 'apnb' })`. */
export function ANN(config: ANNConfig = {}): ANNModel {
  return new ANNModel(config);
}

/** Parameter counts per top-level part (each shared tensor once, as PyTorch's parameters()). */
export function parameterCounts(model: ANNModel): { backbone: number; fusion: number; context: number; cls: number; dsn: number; heads: number; total: number } {
  const count = (m: nn.AnyModule | null) => (m ? m.parameters().reduce((n, p) => n + p.size, 0) : 0);
  const parts = {
    backbone: count(model.backbone),
    fusion: count(model.fusion),
    context: count(model.context),
    cls: count(model.cls),
    dsn: count(model.dsn),
  };
  const heads = parts.fusion + parts.context + parts.cls + parts.dsn;
  return { ...parts, heads, total: parts.backbone + heads };
}
