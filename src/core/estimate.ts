/**
 * How long a session will take, said before it starts ("HAQA: Optimize Model"'s trials step), from what is known then:
 * the source's size, the machine's cores, the trial count, and the cost model's priors (cost.ts) — llama-quantize at
 * its prior rate, a benchmark at its prior seconds. Nothing is measured yet, so it is a range with its assumptions in
 * words: the fewest new model files (one) to a new file every trial, plus confirmation's benchmarks. Accuracy runs
 * (llama-perplexity) are not counted: their speed is not known before a trial ran; the text says so.
 */
import { DEFAULT_CONFIRM } from './confirm';
import { PRIOR_BENCH_SECONDS, PRIOR_BYTES_PER_CORE_SECOND, priorQuantizeSeconds } from './cost';
import { fmtSeconds } from './format';

// A benchmark at the cost model's prior (PRIOR_BENCH_SECONDS); a large model's takes longer, which is why the estimate
// says "at least" for it.
export { PRIOR_BENCH_SECONDS };
/** The quantization an estimate prices a new file at: a K-type, the kind most proposals make. */
const TYPICAL_QUANT = 'Q4_K_M';

export interface SessionEstimateInput {
  /** Bytes of the source model (every shard). */
  sourceBytes: number;
  /** Physical cores (llama-quantize uses them all). */
  cores: number;
  /** Trials to measure. */
  trials: number;
  /** Whether trials make quantized files (an F32/F16/BF16 source); false for an already-quantized one. */
  quantizes: boolean;
  /** Whether the leaders are measured again before the verdict. */
  confirm: boolean;
  /** Whether every trial measures accuracy (not priced; named in the text). */
  accuracy: boolean;
  /** The search stops after this many minutes, when set. */
  timeBudgetMin?: number;
}

export interface SessionEstimate {
  /** The fewest and the most seconds by the assumptions (low: one new file; high: one per trial). */
  lowSeconds: number;
  highSeconds: number;
  /** The range in words: "about 2.9–5.7 min", "about 40 s to 2.5 min", "about 2.0 min". */
  range: string;
  /** How it was computed, one sentence: the parts and their prices. */
  how: string;
}

/**
 * Confirmation's benchmark runs: 2 rounds × (the candidates plus the anchor again); the candidates are the top 3 (4
 * when one more is in contention, which an estimate cannot know), fewer when fewer trials ran, none below two.
 */
export function confirmationRuns(trials: number): number {
  const candidates = Math.min(Math.max(trials, 0), 3);
  return candidates < 2 ? 0 : DEFAULT_CONFIRM.rounds * (candidates + 1);
}

/** The session's duration before it starts: a range and how it was computed. */
export function estimateSession(i: SessionEstimateInput): SessionEstimate {
  const trials = Math.max(0, Math.floor(i.trials));
  const quantize = i.quantizes ? priorQuantizeSeconds(i.sourceBytes, i.cores, TYPICAL_QUANT) : 0;
  const bench = trials * PRIOR_BENCH_SECONDS;
  const confirmRuns = i.confirm ? confirmationRuns(trials) : 0;
  const confirm = confirmRuns * PRIOR_BENCH_SECONDS;
  const files = i.quantizes ? Math.min(trials, 1) : 0;
  let low = bench + files * quantize + confirm;
  let high = bench + (i.quantizes ? trials : 0) * quantize + confirm;
  const cap = i.timeBudgetMin !== undefined && i.timeBudgetMin > 0 ? i.timeBudgetMin * 60 + confirm : undefined;
  if (cap !== undefined) {
    low = Math.min(low, cap);
    high = Math.min(high, cap);
  }
  const a = fmtSeconds(low);
  const b = fmtSeconds(high);
  const unit = (x: string) => x.replace(/^[\d.]+ /, '');
  const range =
    a === b ? `about ${a}` : unit(a) === unit(b) ? `about ${a.replace(/ .*$/, '')}–${b}` : `about ${a} to ${b}`;
  const parts = [
    `${trials} benchmark${trials === 1 ? '' : 's'} at ${PRIOR_BENCH_SECONDS} s (the prior before one is measured)`,
  ];
  if (i.quantizes && trials > 0)
    parts.push(
      `${trials === 1 ? 'one' : `1 to ${trials}`} new quantized file${trials === 1 ? '' : 's'} at ` +
        `${fmtSeconds(quantize)} each (llama-quantize's prior rate, ${PRIOR_BYTES_PER_CORE_SECOND / 1e6} MB of source per core-second, on ${i.cores} core${i.cores === 1 ? '' : 's'})`,
    );
  if (confirmRuns) parts.push(`${confirmRuns} confirmation benchmarks`);
  const notes: string[] = [];
  if (i.accuracy) notes.push('accuracy runs come on top');
  notes.push('a large model benchmarks longer');
  if (cap !== undefined) notes.push(`the time budget stops the search after ${i.timeBudgetMin} min`);
  return { lowSeconds: low, highSeconds: high, range, how: `${parts.join(' + ')}; ${notes.join('; ')}` };
}
