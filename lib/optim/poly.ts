// The poly learning-rate schedule of the ANN/DeepLab recipes: lr = base * (1 - it / maxIters)^power,
// stepped once per iteration (torch.optim.lr_scheduler.PolynomialLR's closed form).

export interface HasLr {
  lr: number;
}

export interface PolyLRState {
  baseLr: number;
  lastIter: number;
}

export class PolyLR {
  readonly maxIters: number;
  readonly power: number;
  #baseLr: number;
  #iter = 0;

  constructor(
    readonly optimizer: HasLr,
    { maxIters, power = 0.9 }: { maxIters: number; power?: number },
  ) {
    if (!Number.isSafeInteger(maxIters) || maxIters <= 0) throw new Error(`PolyLR: maxIters must be a positive integer, got ${maxIters}`);
    if (!Number.isFinite(power) || power < 0) throw new Error(`PolyLR: power must be a finite number >= 0, got ${power}`);
    this.maxIters = maxIters;
    this.power = power;
    this.#baseLr = optimizer.lr;
  }

  get lastIter(): number {
    return this.#iter;
  }

  /** The rate at iteration it (0-based); zero from maxIters on. */
  lrAt(it: number): number {
    return this.#baseLr * Math.pow(Math.max(0, 1 - Math.min(it, this.maxIters) / this.maxIters), this.power);
  }

  /** Advances one iteration and sets the optimizer's lr. */
  step(): void {
    this.#iter++;
    this.optimizer.lr = this.lrAt(this.#iter);
  }

  stateDict(): PolyLRState {
    return { baseLr: this.#baseLr, lastIter: this.#iter };
  }

  loadStateDict(state: PolyLRState): void {
    if (!Number.isFinite(state.baseLr) || !Number.isSafeInteger(state.lastIter) || state.lastIter < 0)
      throw new Error(`PolyLR.loadStateDict: malformed state ${JSON.stringify(state)}`);
    this.#baseLr = state.baseLr;
    this.#iter = state.lastIter;
    this.optimizer.lr = this.lrAt(this.#iter);
  }
}
