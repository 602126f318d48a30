/**
 * llama.cpp's own answer as a measured reference. Where a model does not fit its GPUs whole, llama.cpp's `--fit` (on
 * by default in llama-server) places layers and experts itself. A session measures that choice, for the leading
 * quantization with llama.cpp's default runtime settings, as one of its trials, and reports its verdict against it by
 * the project's comparison rule: the speed ratio, memory and accuracy.
 */
import { placementLabel } from './format';
import { objectiveStat, compare } from './verdict';
import { leader, type ObjectiveSpec } from './objective';
import type { SearchSpace } from './space';
import { placedConfig, type Proposal } from './strategies/strategy';
import type { Toolchain, TrialContext } from './toolchains/toolchain';
import { peakMemBytes, wasMeasured, type Config, type TrialRecord } from './types';

/** The proposer named on the reference trial. */
export const REFERENCE_SOURCE = 'llama.cpp --fit';

/**
 * The reference to measure, once the search has a leader: its quantization, every runtime knob at its default (what
 * llama-server runs with when given only a model and a context), and llama.cpp's placement of that. `measured` when
 * the search already ran that configuration; `whole` when the model fits whole (no reference: nothing to place).
 */
export async function referenceProposal(
  o: { space: SearchSpace; toolchain: Toolchain; objective: ObjectiveSpec; context?: number },
  history: TrialRecord[],
  ctx: TrialContext,
): Promise<
  | { kind: 'propose'; proposal: Proposal; flags: string[] }
  | { kind: 'measured'; trial: TrialRecord; flags: string[] }
  | { kind: 'none'; why?: string }
> {
  const top = leader(o.objective, history);
  if (!top) return { kind: 'none', why: 'no trial measured yet' };
  // A CPU build, a replay, a build without llama-fit-params: nothing to compare with, and nothing to say.
  if (!o.toolchain.fitPlacement) return { kind: 'none' };
  const base: Config = {};
  for (const k of o.space.knobs) base[k.name] = k.stage === 'quantize' ? top.config[k.name] : k.default;
  const fp = await o.toolchain.fitPlacement(base, ctx);
  if (!fp) return { kind: 'none' };
  if ('why' in fp) return { kind: 'none', why: fp.why };
  if (fp.whole)
    return { kind: 'none', why: `${String(base.quant)} fits the GPUs whole: llama.cpp has nothing to place` };
  const c = placedConfig(o.space, base, fp.fitted);
  if (!o.space.isValid(c))
    return { kind: 'none', why: `its placement is outside the search space (${placementLabel(fp.fitted)})` };
  const config = o.space.canonical(c);
  const key = o.space.key(config);
  const same = history.find((t) => t.status !== 'cancelled' && o.space.key(t.config) === key);
  // Already run: the reference if it was measured; a skipped or failed one is not proposed again (nor compared).
  if (same && wasMeasured(same)) return { kind: 'measured', trial: same, flags: fp.fitted.flags };
  if (same)
    return {
      kind: 'none',
      why: `llama.cpp's choice is trial #${same.index}, which has no measurement (${same.status})`,
    };
  const at = o.context !== undefined ? ` at context ${o.context}` : '';
  return {
    kind: 'propose',
    flags: fp.fitted.flags,
    proposal: {
      config,
      source: REFERENCE_SOURCE,
      rationale:
        `reference: what llama.cpp's --fit chooses for ${String(base.quant)}${at} with its default runtime settings ` +
        `(${fp.fitted.flags.join(' ')}), measured as ${placementLabel(fp.fitted)}` +
        (fp.fitted.flags.includes('-ts') ? " with llama.cpp's default split by free memory" : '') +
        ', to compare the verdict with',
    },
  };
}

/** The verdict against llama.cpp's choice, by the comparison rule. */
export interface ReferenceComparison {
  reference: number;
  flags: string[];
  verdict: number;
  /** The verdict's objective figure over the reference's. */
  ratio: number;
  /** By the rule: the verdict is faster, they are tied, or the reference is faster (it is then the verdict itself). */
  outcome: 'faster' | 'tied' | 'slower' | 'same' | 'unmeasured';
  memory: { verdictBytes?: number; referenceBytes?: number };
  accuracy: { verdictDPplPct?: number; referenceDPplPct?: number };
}

export function compareWithReference(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  verdict: TrialRecord | undefined,
  ref: { index: number; flags: string[] } | undefined,
): ReferenceComparison | undefined {
  const r = ref && trials.find((t) => t.index === ref.index);
  if (!ref || !r || !verdict) return undefined;
  const a = objectiveStat(o, verdict.metrics);
  const b = objectiveStat(o, r.metrics);
  const order = a && b ? compare(a, b).order : undefined;
  return {
    reference: r.index,
    flags: ref.flags,
    verdict: verdict.index,
    ratio: a && b && b.mean > 0 ? a.mean / b.mean : NaN,
    outcome:
      r.index === verdict.index
        ? 'same'
        : order === undefined
          ? 'unmeasured'
          : order === 1
            ? 'faster'
            : order === 0
              ? 'tied'
              : 'slower',
    memory: { verdictBytes: peakMemBytes(verdict.metrics), referenceBytes: peakMemBytes(r.metrics) },
    accuracy: {
      verdictDPplPct: verdict.metrics.accuracy?.dPplPct,
      referenceDPplPct: r.metrics.accuracy?.dPplPct,
    },
  };
}

/** One line: "the verdict #7 is 1.42× llama.cpp's --fit choice #12 (-ngl 99 -ot …), beyond noise". */
export function describeReference(c: ReferenceComparison): string {
  const flags = c.flags.join(' ');
  if (c.outcome === 'same') return `the verdict #${c.verdict} is llama.cpp's --fit choice (${flags})`;
  if (c.outcome === 'unmeasured')
    return `llama.cpp's --fit choice #${c.reference} (${flags}) has no measurement to compare the verdict #${c.verdict} with`;
  const by =
    c.outcome === 'faster'
      ? 'faster beyond noise'
      : c.outcome === 'tied'
        ? 'tied by the comparison rule'
        : 'slower beyond noise (it is outside a limit the reference meets, or less accurate)';
  return `the verdict #${c.verdict} runs ${c.ratio.toFixed(2)}× llama.cpp's --fit choice #${c.reference} (${flags}): ${by}`;
}
