/**
 * What a session is: one typed, versioned `SessionSpec`, built by the CLI from flags and by the extension from its
 * settings and prompts, written to session.json and read back only through `parseSessionSpec` (no casts). Older
 * session files (an untyped `options` object, no version) still load: `specFromMeta` migrates them.
 */
import * as path from 'node:path';
import type { LlmSettings } from './agent/settings';
import { DEFAULT_LLM, OUTPUT_MODES, checkBaseUrl } from './agent/settings';
import { HaqaError, errorMessage } from './errors';
import type { ObjectiveKind, ObjectiveSpec } from './objective';
import { STRATEGY_NAMES, type StrategyName } from './strategies/strategy';
import { DEFAULT_WORKLOAD, isRecord, type Workload } from './types';

export const SPEC_VERSION = 1;

/** LLM agent settings as a session records them: never the key (it is not a setting), never the negotiated mode. */
export type SpecLlm = Omit<LlmSettings, 'mode'>;

export interface SessionSpec {
  version: typeof SPEC_VERSION;
  /** The GGUF to optimize (absolute path); absent for a replay session. */
  model?: string;
  /** Recorded llama-bench output answering the trials instead of running them (absolute paths). */
  replay?: string[];
  objective: ObjectiveSpec;
  /** What one request looks like: the workload every trial measures. */
  workload: Workload;
  /** The strategy asked for (`auto` resolves at launch: the agent when an endpoint is configured). */
  strategy: StrategyName;
  /** Trials to measure (a ceiling). */
  budget: number;
  /** Stop after this many minutes: no trial starts after it, and a running one is cancelled (resumable). */
  timeBudgetMin?: number;
  /** Longest a single tool step (quantize, imatrix, bench, perplexity) may run, in minutes; default 60 (bench 30). */
  stepTimeoutMin?: number;
  seed: number;
  /** Confirm the verdict before the session ends: the leaders measured again, interleaved (confirm.ts). */
  confirm: boolean;
  /**
   * Where the model does not fit its GPUs whole, measure llama.cpp's own placement (--fit) as the budget's last trial
   * and compare the verdict with it (reference.ts). Absent: on.
   */
  reference?: boolean;
  /** End before the budget once the session is done (stopping.ts). Absent: on. */
  stopEarly?: boolean;
  /** Accuracy in every trial: the evaluation text and its 512-token chunks; null = off. */
  accuracy: { evalFile: string; chunks: number } | null;
  /** Calibration texts for the imatrix knob, by name; absent = the built-in sample. */
  calibrations?: Record<string, string>;
  /** The LLM agent's endpoint and settings, when one is configured. */
  llm?: SpecLlm;
  /**
   * The toolchain asked for: a folder of llama.cpp tools, the backend of an automatic build, the artifact cache.
   * Recorded as asked when the session was created (not updated on resume); hosts resolve the tools from their own flags and machine-scoped
   * settings, so a session file can never make HAQA run another binary.
   */
  toolchain: { binDir?: string; backend?: string; cacheDir?: string };
}

/** The defaults a spec gets for what a caller leaves out. */
export function makeSpec(
  s: Partial<Omit<SessionSpec, 'version'>> & ({ model: string } | { replay: string[] }),
): SessionSpec {
  return {
    version: SPEC_VERSION,
    model: s.model,
    replay: s.replay,
    objective: s.objective ?? { kind: 'decode' },
    workload: s.workload ?? DEFAULT_WORKLOAD,
    strategy: s.strategy ?? 'auto',
    budget: s.budget ?? 12,
    timeBudgetMin: s.timeBudgetMin,
    stepTimeoutMin: s.stepTimeoutMin,
    seed: s.seed ?? 0,
    confirm: s.confirm ?? true,
    reference: s.reference,
    stopEarly: s.stopEarly,
    accuracy: s.accuracy ?? null,
    calibrations: s.calibrations,
    llm: s.llm,
    toolchain: s.toolchain ?? {},
  };
}

const OBJECTIVE_KINDS: readonly ObjectiveKind[] = ['decode', 'prefill', 'balanced'];

/** Reads fields off an unknown JSON value, collecting every problem with its path. */
class Reader {
  readonly problems: string[] = [];
  /** `fresh`: a spec a host just built (its problems are the user's options), not one read from a file. */
  constructor(
    private readonly where: string,
    private readonly fresh = false,
  ) {}

  obj(v: unknown, at: string): Record<string, unknown> | undefined {
    if (isRecord(v)) return v;
    this.problems.push(`${at} must be an object`);
    return undefined;
  }

  num(o: Record<string, unknown>, k: string, at: string, opt: { min?: number; max?: number } = {}): number | undefined {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < (opt.min ?? -Infinity) || v > (opt.max ?? Infinity)) {
      const min = opt.min !== undefined ? ` ≥ ${opt.min}` : '';
      const max = opt.max !== undefined ? ` ≤ ${opt.max}` : '';
      this.problems.push(`${at}.${k} must be a number${min}${max}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  bool(o: Record<string, unknown>, k: string, at: string): boolean | undefined {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      this.problems.push(`${at}.${k} must be true or false, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  str(o: Record<string, unknown>, k: string, at: string): string | undefined {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      this.problems.push(`${at}.${k} must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(o: Record<string, unknown>, k: string, at: string, allowed: readonly T[]): T | undefined {
    const v = this.str(o, k, at);
    if (v === undefined) return undefined;
    const known = allowed.find((a) => a === v);
    if (known === undefined) this.problems.push(`${at}.${k} must be one of ${allowed.join(', ')}, got "${v}"`);
    return known;
  }

  strings(o: Record<string, unknown>, k: string, at: string): string[] | undefined {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    const out = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    if (!Array.isArray(v) || out.length !== v.length) {
      this.problems.push(`${at}.${k} must be a list of strings`);
      return undefined;
    }
    return out;
  }

  stringMap(o: Record<string, unknown>, k: string, at: string): Record<string, string> | undefined {
    const v = o[k];
    if (v === undefined || v === null) return undefined;
    const m = this.obj(v, `${at}.${k}`);
    if (!m) return undefined;
    const out: Record<string, string> = {};
    for (const [name, file] of Object.entries(m)) {
      if (typeof file !== 'string') {
        this.problems.push(`${at}.${k} must map names to file paths`);
        return undefined;
      }
      out[name] = file;
    }
    return out;
  }

  fail(): never {
    if (this.fresh)
      throw new HaqaError(
        `the session's settings are not valid: ${this.problems.join('; ')}`,
        { cli: 'check the flags (see `haqa --help`)', vscode: 'check the HAQA settings and the answers given' },
        'usage',
      );
    throw new HaqaError(
      `${this.where} is not a valid HAQA session: ${this.problems.join('; ')}`,
      'restore the file from a backup, or start a new session',
      'input',
    );
  }
}

/**
 * Validates a spec as read from session.json (any version this build knows; a missing version is an older file whose
 * `options` carry the same names). Throws a HaqaError listing every problem.
 */
export function parseSessionSpec(raw: unknown, where = 'session.json', fresh = false): SessionSpec {
  const r: Reader = new Reader(where, fresh);
  const o = r.obj(raw, 'spec');
  if (!o) r.fail();
  const version = o.version ?? SPEC_VERSION;
  if (version !== SPEC_VERSION) {
    const what =
      typeof version === 'number' ? `a version ${version} session` : `a session of version ${JSON.stringify(version)}`;
    throw new HaqaError(
      `${where} is ${what}; this HAQA reads version ${SPEC_VERSION}`,
      'open it with the HAQA version that wrote it, or start a new session',
      'input',
    );
  }
  const model = r.str(o, 'model', 'spec');
  const replay = r.strings(o, 'replay', 'spec');
  if (!model && !replay?.length) r.problems.push('spec has neither a model nor replay files');

  let objective: ObjectiveSpec = { kind: 'decode' };
  const ob = o.objective === undefined ? {} : r.obj(o.objective, 'spec.objective');
  if (ob) {
    objective = {
      kind: r.oneOf(ob, 'kind', 'spec.objective', OBJECTIVE_KINDS) ?? 'decode',
      decodeWeight: r.num(ob, 'decodeWeight', 'spec.objective', { min: 0 }),
      maxSizeBytes: r.num(ob, 'maxSizeBytes', 'spec.objective', { min: 0 }),
      maxMemBytes: r.num(ob, 'maxMemBytes', 'spec.objective', { min: 0 }),
      maxVramBytes: r.num(ob, 'maxVramBytes', 'spec.objective', { min: 0 }),
      maxDeltaPplPct: r.num(ob, 'maxDeltaPplPct', 'spec.objective', { min: 0 }),
      maxKld: r.num(ob, 'maxKld', 'spec.objective', { min: 0 }),
    };
    if (objective.decodeWeight !== undefined && objective.decodeWeight > 1)
      r.problems.push('spec.objective.decodeWeight must be between 0 and 1');
  }

  let workload = DEFAULT_WORKLOAD;
  const wl = o.workload === undefined ? undefined : r.obj(o.workload, 'spec.workload');
  if (wl) {
    const n = (k: Exclude<keyof Workload, 'context'>, min = 0) =>
      r.num(wl, k, 'spec.workload', { min }) ?? DEFAULT_WORKLOAD[k];
    workload = {
      promptTokens: n('promptTokens'),
      genTokens: n('genTokens'),
      depth: n('depth'),
      repetitions: n('repetitions', 1),
      ...(wl.context !== undefined
        ? { context: Math.round(r.num(wl, 'context', 'spec.workload', { min: 1 }) ?? 0) || undefined }
        : {}),
    };
  }

  let accuracy: SessionSpec['accuracy'] = null;
  if (o.accuracy !== undefined && o.accuracy !== null) {
    const a = r.obj(o.accuracy, 'spec.accuracy');
    const evalFile = a ? r.str(a, 'evalFile', 'spec.accuracy') : undefined;
    const chunks = a ? r.num(a, 'chunks', 'spec.accuracy', { min: 1 }) : undefined;
    // An older extension wrote { chunks } alone when its built-in text was missing: such a session had no accuracy.
    if (a && evalFile && chunks === undefined) r.problems.push('spec.accuracy needs chunks');
    else if (evalFile && chunks !== undefined) accuracy = { evalFile, chunks };
  }

  let llm: SpecLlm | undefined;
  if (o.llm !== undefined && o.llm !== null) {
    const l = r.obj(o.llm, 'spec.llm');
    if (l) llm = parseLlm(r, l);
  }

  let toolchain: SessionSpec['toolchain'] = {};
  const tc = o.toolchain === undefined ? {} : r.obj(o.toolchain, 'spec.toolchain');
  if (tc) {
    toolchain = {
      binDir: r.str(tc, 'binDir', 'spec.toolchain'),
      backend: r.str(tc, 'backend', 'spec.toolchain'),
      cacheDir: r.str(tc, 'cacheDir', 'spec.toolchain'),
    };
  }
  // Older files kept the cache folder at the top level.
  toolchain.cacheDir ??= r.str(o, 'cacheDir', 'spec');

  const spec: SessionSpec = {
    version: SPEC_VERSION,
    model,
    replay,
    objective,
    workload,
    strategy: r.oneOf(o, 'strategy', 'spec', STRATEGY_NAMES) ?? 'auto',
    budget: r.num(o, 'budget', 'spec', { min: 1 }) ?? 12,
    timeBudgetMin: r.num(o, 'timeBudgetMin', 'spec', { min: 0.001 }),
    stepTimeoutMin: r.num(o, 'stepTimeoutMin', 'spec', { min: 0.001 }),
    seed: r.num(o, 'seed', 'spec', { min: 0 }) ?? 0,
    confirm: r.bool(o, 'confirm', 'spec') ?? true,
    reference: r.bool(o, 'reference', 'spec'),
    stopEarly: r.bool(o, 'stopEarly', 'spec'),
    accuracy,
    calibrations: r.stringMap(o, 'calibrations', 'spec'),
    llm,
    toolchain,
  };
  for (const f of [spec.model, ...(spec.replay ?? []), spec.accuracy?.evalFile].filter((x) => x !== undefined))
    if (!path.isAbsolute(f)) r.problems.push(`the path "${f}" in spec is not absolute`);
  if (r.problems.length) r.fail();
  return spec;
}

function parseLlm(r: Reader, l: Record<string, unknown>): SpecLlm | undefined {
  const at = 'spec.llm';
  const baseUrl = r.str(l, 'baseUrl', at);
  const model = r.str(l, 'model', at);
  if (!baseUrl || !model) {
    r.problems.push('spec.llm needs baseUrl and model');
    return undefined;
  }
  try {
    checkBaseUrl(baseUrl);
  } catch (e) {
    r.problems.push(`spec.llm.baseUrl: ${errorMessage(e)}`);
  }
  type NumKey =
    | 'timeoutMs'
    | 'maxRetries'
    | 'maxRetryAfterMs'
    | 'maxPromptTokens'
    | 'proposalsPerCall'
    | 'repairRounds'
    | 'maxFailures';
  const need = (k: NumKey, min = 0): number => r.num(l, k, at, { min }) ?? DEFAULT_LLM[k];
  const maxPromptTokens = r.num(l, 'maxPromptTokens', at, { min: 1000 }) ?? DEFAULT_LLM.maxPromptTokens;
  const out: SpecLlm = {
    baseUrl,
    model,
    temperature: r.num(l, 'temperature', at, { min: 0, max: 2 }),
    timeoutMs: need('timeoutMs'),
    maxRetries: need('maxRetries'),
    maxRetryAfterMs: need('maxRetryAfterMs'),
    maxPromptTokens,
    proposalsPerCall: need('proposalsPerCall', 1),
    repairRounds: need('repairRounds'),
    maxFailures: need('maxFailures'),
    priceInPerMTok: r.num(l, 'priceInPerMTok', at, { min: 0 }),
    priceOutPerMTok: r.num(l, 'priceOutPerMTok', at, { min: 0 }),
  };
  if (l.mode !== undefined && l.mode !== null) r.oneOf(l, 'mode', at, OUTPUT_MODES);
  return out;
}

/** LLM settings as a spec records them: without the output mode an endpoint negotiated (the journal keeps that). */
export function recordedLlm(llm: LlmSettings): SpecLlm {
  const { mode: _negotiated, ...recorded } = llm;
  return recorded;
}

/** The spec as a session.json records it, checked by the same reader first: no session is written that cannot load. */
export function specForDisk(spec: SessionSpec): SessionSpec {
  return parseSessionSpec(JSON.parse(JSON.stringify(spec)), 'the new session', true);
}

/** A JSON object (not null, not an array). */
export { isRecord };
