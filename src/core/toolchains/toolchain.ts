import { errorMessage, isHalting, isHaqaError } from '../errors';
import type { ProcessRunner } from '../process/runner';
import type { SearchSpace } from '../space';
import type { Config, FittedPlacement, TrialMetrics } from '../types';

export interface TrialContext {
  runner: ProcessRunner;
  /** Per-trial logs go here. */
  logDir: string;
  trialIndex: number;
  /** Names this run's logs instead of the trial index (a confirmation run of a trial, say). */
  logTag?: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface StepRecord {
  name: string;
  seconds: number;
  cached?: boolean;
  log?: string;
  /** What went wrong in a step the trial went on without (e.g. a memory projection that could not be made). */
  note?: string;
}

export interface TrialOutcome {
  /** `infeasible`: refused before it ran, over a limit by llama.cpp's memory projection (the cause says). */
  status: 'done' | 'failed' | 'infeasible' | 'cancelled' | 'skipped';
  metrics: TrialMetrics;
  cause?: string;
  steps: StepRecord[];
  /**
   * Set when the machine, not the configuration, failed (the cache disk is full): the session stops with this reason,
   * and the trial is kept as cancelled — not counted, measured again on resume — never as a measured failure.
   */
  halt?: string;
}

/** A toolchain turns a validated configuration into measurements. One folder per toolchain. */
export interface Toolchain {
  readonly name: string;
  readonly space: SearchSpace;
  /**
   * False when running a configuration again gives the same figures, not a new measurement (a replay of recorded
   * rows): the verdict is then not confirmed, since pooling copies would only fake certainty.
   */
  readonly measuresAgain?: boolean;
  /** Facts recorded in the session (version, backend, files). */
  info(): Record<string, unknown>;
  runTrial(config: Config, ctx: TrialContext): Promise<TrialOutcome>;
  /** Which of these configurations' model files exist already (cost.ts recipeKeys): they cost no quantization. */
  cachedFiles?(configs: Config[]): Promise<Set<string>>;
  /**
   * llama.cpp's own placement of `config` on the session's GPUs (its --fit), for a configuration whose model file is
   * made: the reference a verdict is compared with. `whole` when everything fits on the GPUs.
   */
  fitPlacement?(
    config: Config,
    ctx: TrialContext,
  ): Promise<{ fitted: FittedPlacement; whole: boolean } | { why: string } | undefined>;
}

/**
 * The outcome of a trial whose run threw. The machine's failure (a session folder that cannot be written, isHalting)
 * stops the session with the cause and the fix (resumable); anything else is HAQA's own fault, named as such.
 */
export function thrownOutcome(e: unknown): TrialOutcome {
  if (isHalting(e)) {
    const cause = isHaqaError(e) ? `${e.message} (fix: ${e.fixFor('any')})` : errorMessage(e);
    return { status: 'failed', metrics: {}, cause, steps: [], halt: cause };
  }
  return { status: 'failed', metrics: {}, cause: `internal error: ${errorMessage(e)}`, steps: [] };
}
