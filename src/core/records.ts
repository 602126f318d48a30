/**
 * What a session file may hold, checked when it is read. trials.jsonl is written by HAQA but lives in the user's
 * folder: a crash, a disk error or a hand edit can leave lines that parse as JSON and still are no trial (`"metrics":
 * null`, a decode of 1e308 t/s, a negative sd, a mean its own samples contradict). Readers get records of the types
 * they expect; a figure that no measurement can have produced is dropped, and a `done` trial that loses one is shown
 * as failed with the reason, never as best. The file itself is never rewritten.
 */
import type { ConfirmEntry, ConfirmRecord } from './confirm';
import { statOfSamples } from './verdict';
import {
  isRecord,
  type ConfigValue,
  type FittedPlacement,
  type MemoryProjection,
  type Stat,
  type TrialMetrics,
  type TrialRecord,
  type TrialStatus,
} from './types';

const STATUSES: readonly TrialStatus[] = ['done', 'failed', 'infeasible', 'cancelled', 'skipped'];
const CONFIRM_STATUSES: readonly ConfirmRecord['status'][] = ['done', 'failed', 'cancelled', 'skipped'];

/** No llama.cpp measurement reaches this many tokens per second (prefill of a tiny model on an H200 is ~10⁶). */
export const MAX_TOKENS_PER_SECOND = 1e8;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const posInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Why a speed figure cannot be a measurement, or undefined when it can. */
export function implausibleStat(v: unknown): string | undefined {
  if (!isRecord(v)) return 'not a figure';
  const { mean, sd, n, samples } = v;
  if (!finite(mean) || mean <= 0) return `mean ${String(mean)} t/s`;
  if (mean > MAX_TOKENS_PER_SECOND) return `mean ${mean} t/s (above ${MAX_TOKENS_PER_SECOND})`;
  if (!finite(sd) || sd < 0) return `sd ${String(sd)}`;
  if (!posInt(n)) return `n ${String(n)}`;
  if (samples !== undefined) {
    if (!Array.isArray(samples) || !samples.every((x) => finite(x) && x > 0 && x <= MAX_TOKENS_PER_SECOND))
      return 'samples that are not speeds';
    if (samples.length !== n) return `${samples.length} samples for n ${n}`;
    const m = statOfSamples(samples).mean;
    if (Math.abs(m - mean) > 1e-3 * mean + 1e-6) return `mean ${mean} t/s against its samples' ${m.toFixed(3)}`;
  }
  return undefined;
}

const statFrom = (v: unknown): Stat | undefined => {
  if (implausibleStat(v) !== undefined) return undefined;
  const o = v as Record<string, unknown>;
  const s: Stat = { mean: o.mean as number, sd: o.sd as number, n: o.n as number };
  if (Array.isArray(o.samples)) s.samples = [...(o.samples as number[])];
  return s;
};

/** Metrics as read from a file; `dropped` names the figures that could not be measurements. */
export function metricsFromJson(v: unknown): { metrics: TrialMetrics; dropped: string[] } {
  const metrics: TrialMetrics = {};
  const dropped: string[] = [];
  if (!isRecord(v)) return { metrics, dropped: v === undefined || v === null ? [] : ['metrics'] };
  // Decode and prefill: the trial's, and those measured beside them at depth 0 (`atDepth0`), checked alike.
  const speeds = (from: Record<string, unknown>, into: { decode?: Stat; prefill?: Stat }, prefix = '') => {
    for (const k of ['decode', 'prefill'] as const) {
      if (from[k] === undefined || from[k] === null) continue;
      const why = implausibleStat(from[k]);
      if (why) dropped.push(`${prefix}${k}: ${why}`);
      else into[k] = statFrom(from[k]);
    }
  };
  speeds(v, metrics);
  if (isRecord(v.atDepth0)) {
    const zero: NonNullable<TrialMetrics['atDepth0']> = {};
    speeds(v.atDepth0, zero, 'atDepth0.');
    if (zero.decode || zero.prefill) metrics.atDepth0 = zero;
  }
  if (v.projected !== undefined && v.projected !== null) {
    const p = projectionFrom(v.projected);
    if (p) metrics.projected = p;
    else dropped.push('projected: not a memory projection');
  }
  if (v.fitted !== undefined && v.fitted !== null) {
    const f = fittedFrom(v.fitted);
    if (f) metrics.fitted = f;
    else dropped.push("fitted: not llama.cpp's fit");
  }
  if (v.fittedSmallerKv !== undefined && v.fittedSmallerKv !== null) {
    const all = Array.isArray(v.fittedSmallerKv) ? v.fittedSmallerKv.map(fittedFrom) : [undefined];
    if (all.every((f): f is FittedPlacement => f !== undefined && f.cacheType !== undefined))
      metrics.fittedSmallerKv = all;
    else dropped.push("fittedSmallerKv: not llama.cpp's fit");
  }
  for (const k of ['fileSizeBytes', 'peakHostMemBytes', 'peakDeviceMemBytes', 'peakDeviceMemMaxBytes'] as const) {
    if (v[k] === undefined || v[k] === null) continue;
    if (finite(v[k]) && v[k] >= 0) metrics[k] = v[k];
    else dropped.push(`${k}: ${String(v[k])}`);
  }
  if (v.accuracy !== undefined && v.accuracy !== null) {
    // What every reader shows of accuracy: ΔPPL and mean KLD. Without both it is no accuracy measurement.
    const a = v.accuracy;
    if (isRecord(a) && finite(a.dPplPct) && finite(a.kld) && a.kld >= 0) {
      const acc: Record<string, number> = {};
      for (const [k, x] of Object.entries(a)) if (finite(x)) acc[k] = x;
      metrics.accuracy = acc;
    } else dropped.push('accuracy without ΔPPL and KLD');
  }
  return { metrics, dropped };
}

/** A flag llama.cpp's fit printed (-ngl, 17, -ot, its tensor patterns): nothing a shell or a terminal would act on. */
export const isFitFlag = (x: unknown): x is string => typeof x === 'string' && /^[-\w.,\\|()*=:]{1,8192}$/.test(x);

function fittedFrom(f: unknown): FittedPlacement | undefined {
  const count = (x: unknown) => Number.isInteger(x) && (x as number) >= 0;
  if (
    !isRecord(f) ||
    !count(f.gpu_layers) ||
    (f.n_cpu_moe !== undefined && !count(f.n_cpu_moe)) ||
    (f.cacheType !== undefined && (typeof f.cacheType !== 'string' || !/^[a-z0-9_]{1,16}$/.test(f.cacheType))) ||
    !Array.isArray(f.flags) ||
    !f.flags.every(isFitFlag)
  )
    return undefined;
  return {
    gpu_layers: f.gpu_layers as number,
    ...(f.n_cpu_moe !== undefined ? { n_cpu_moe: f.n_cpu_moe as number } : {}),
    flags: [...(f.flags as string[])],
    ...(f.cacheType !== undefined ? { cacheType: f.cacheType as string } : {}),
  };
}

const isConfigValue = (x: unknown): x is ConfigValue =>
  typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));

/** A trial record from a parsed trials.jsonl line, or undefined when the line is not one. */
export function trialFromJson(v: unknown): TrialRecord | undefined {
  if (!isRecord(v) || v.type !== 'trial' || !posInt(v.index) || !isRecord(v.config)) return undefined;
  const config = v.config;
  if (!Object.values(config).every(isConfigValue)) return undefined;
  const status = STATUSES.find((s) => s === v.status);
  if (!status) return undefined;
  const { metrics, dropped } = metricsFromJson(v.metrics);
  if (!isRecord(v.metrics)) dropped.push(`metrics ${JSON.stringify(v.metrics ?? null)}`);
  const rec: TrialRecord = {
    ...(v as unknown as TrialRecord),
    type: 'trial',
    index: v.index,
    key: str(v.key) ?? '',
    config: config as Record<string, ConfigValue>,
    status,
    metrics,
    strategy: str(v.strategy) ?? 'unknown',
    startedAt: str(v.startedAt) ?? '',
    endedAt: str(v.endedAt) ?? '',
    durationMs: finite(v.durationMs) ? v.durationMs : 0,
  };
  for (const k of ['cause', 'rationale', 'expectedEffect', 'counterintuitive'] as const)
    if (v[k] !== undefined && typeof v[k] !== 'string') delete rec[k];
  if (v.findings !== undefined && !Array.isArray(v.findings)) delete rec.findings;
  if (v.steps !== undefined && !Array.isArray(v.steps)) delete rec.steps;
  delete rec.confirmedRuns; // computed by the reader, never trusted from the file
  if (dropped.length && status === 'done') {
    rec.status = 'failed';
    rec.cause = `damaged record in trials.jsonl: ${dropped.join('; ')} (not a measurement; re-run the trial)`;
  }
  return rec;
}

/** A confirmation run or a discarded round from a parsed line, or undefined when the line is neither. */
export function confirmFromJson(v: unknown): ConfirmEntry | undefined {
  if (!isRecord(v) || !posInt(v.round)) return undefined;
  if (v.type === 'confirm-discard')
    return { type: 'confirm-discard', round: v.round, drift: finite(v.drift) ? v.drift : -1 };
  if (v.type !== 'confirm' || !posInt(v.of)) return undefined;
  let status = CONFIRM_STATUSES.find((s) => s === v.status);
  if (!status) return undefined;
  const { metrics, dropped } = metricsFromJson(v.metrics);
  if (dropped.length) status = 'failed';
  return {
    type: 'confirm',
    of: v.of,
    round: v.round,
    ...(v.anchor === true ? { anchor: true } : {}),
    ...(v.rerun === true ? { rerun: true } : {}),
    status,
    metrics,
    ...(typeof v.cause === 'string' ? { cause: v.cause } : {}),
    startedAt: str(v.startedAt) ?? '',
    durationMs: finite(v.durationMs) ? v.durationMs : 0,
  };
}

/** A memory projection as read from a file: every figure a size in bytes, else none. */
function projectionFrom(v: unknown): MemoryProjection | undefined {
  const part = (x: unknown) =>
    isRecord(x) && [x.modelBytes, x.contextBytes, x.computeBytes].every((b) => finite(b) && b >= 0)
      ? {
          modelBytes: x.modelBytes as number,
          contextBytes: x.contextBytes as number,
          computeBytes: x.computeBytes as number,
        }
      : undefined;
  if (!isRecord(v) || !finite(v.context) || !Array.isArray(v.devices)) return undefined;
  const host = part(v.host);
  const devices = v.devices.map((d) =>
    isRecord(d) && typeof d.name === 'string' ? { name: d.name, part: part(d) } : undefined,
  );
  if (!host || devices.some((d) => !d?.part)) return undefined;
  return { context: v.context, host, devices: devices.map((d) => ({ name: d!.name, ...d!.part! })) };
}
