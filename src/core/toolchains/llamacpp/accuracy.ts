/**
 * Accuracy of a quantized model against its source, with llama-perplexity: the source's logits on an evaluation text
 * are saved once (`--kl-divergence-base`), each quantized artifact is compared to them (`--kl-divergence`): PPL,
 * ΔPPL %, mean and 99th-percentile KL divergence, same-top-token %.
 */
import * as path from 'node:path';
import type { Config } from '../../types';
import { shippedFile } from '../../paths';

export interface AccuracyOptions {
  /** The evaluation text (UTF-8). */
  evalFile: string;
  /**
   * Chunks of `ctx` tokens to evaluate (cost grows linearly; the base logits file is chunks × ctx × vocab × 2
   * bytes).
   */
  chunks: number;
  ctx: number;
}

/** What llama-perplexity prints, parsed. Every field optional: a failed run prints few of them. */
export interface PerplexityResult {
  ppl?: number;
  pplErr?: number;
  pplBase?: number;
  ratio?: number;
  ratioErr?: number;
  kld?: number;
  kldErr?: number;
  kld99?: number;
  sameTopPct?: number;
  sameTopErr?: number;
  chunks?: number;
}

const NUM = '([-+]?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?)';
const PM = '\\s*(?:±|\\+/-)\\s*';

export function parsePerplexityOutput(text: string): PerplexityResult {
  const r: PerplexityResult = {};
  const m = (re: string) => text.match(new RegExp(re, 'm'));
  let x = m(`Final estimate: PPL = ${NUM}${PM}${NUM}`);
  if (x) {
    r.ppl = Number(x[1]);
    r.pplErr = Number(x[2]);
  }
  x = m(`Mean PPL\\(Q\\)\\s*:\\s*${NUM}${PM}${NUM}`);
  if (x) {
    r.ppl = Number(x[1]);
    r.pplErr = Number(x[2]);
  }
  x = m(`Mean PPL\\(base\\)\\s*:\\s*${NUM}`);
  if (x) r.pplBase = Number(x[1]);
  x = m(`Mean PPL\\(Q\\)/PPL\\(base\\)\\s*:\\s*${NUM}${PM}${NUM}`);
  if (x) {
    r.ratio = Number(x[1]);
    r.ratioErr = Number(x[2]);
  }
  x = m(`^.*Mean\\s+KLD:\\s*${NUM}${PM}${NUM}`);
  if (x) {
    r.kld = Number(x[1]);
    r.kldErr = Number(x[2]);
  }
  x = m(`^.*99\\.0%\\s+KLD:\\s*${NUM}`);
  if (x) r.kld99 = Number(x[1]);
  x = m(`Same top p:\\s*${NUM}${PM}${NUM}\\s*%`);
  if (x) {
    r.sameTopPct = Number(x[1]);
    r.sameTopErr = Number(x[2]);
  }
  x = m(`calculating perplexity over (\\d+) chunks`) ?? m(`over (\\d+) chunks`);
  if (x) r.chunks = Number(x[1]);
  return r;
}

/** The accuracy metrics a trial records (TrialMetrics.accuracy). */
export function accuracyMetrics(p: PerplexityResult): Record<string, number> | undefined {
  if (p.ratio === undefined || p.kld === undefined || p.ppl === undefined) return undefined;
  const out: Record<string, number> = {
    ppl: p.ppl,
    dPplPct: (p.ratio - 1) * 100,
    dPplPctErr: (p.ratioErr ?? 0) * 100,
    kld: p.kld,
    kldErr: p.kldErr ?? 0,
  };
  if (p.pplBase !== undefined) out.pplBase = p.pplBase;
  if (p.kld99 !== undefined) out.kld99 = p.kld99;
  if (p.sameTopPct !== undefined) out.sameTopPct = p.sameTopPct;
  return out;
}

function common(tool: string, model: string, o: AccuracyOptions, threads: number, gpu: boolean): string[] {
  return [
    tool,
    '-m',
    model,
    '-f',
    o.evalFile,
    '-c',
    String(o.ctx),
    '--chunks',
    String(o.chunks),
    '-t',
    String(threads),
    ...(gpu ? ['-ngl', '999'] : []),
  ];
}

/** The base run: the source model's logits saved to `baseFile`. */
export function baseArgs(
  tool: string,
  model: string,
  baseFile: string,
  o: AccuracyOptions,
  threads: number,
  gpu: boolean,
): string[] {
  return [...common(tool, model, o, threads, gpu), '--kl-divergence-base', baseFile];
}

/**
 * A trial's run against the base logits. The KV cache types change the numbers, so they are passed (a quantized V
 * cache needs flash attention); threads, batch sizes and GPU layers do not, so accuracy is reused across them.
 */
export function kldArgs(
  tool: string,
  model: string,
  baseFile: string,
  o: AccuracyOptions,
  threads: number,
  gpu: boolean,
  config: Config,
): string[] {
  const ctk = String(config.cache_type_k ?? 'f16');
  const ctv = String(config.cache_type_v ?? 'f16');
  return [
    ...common(tool, model, o, threads, gpu),
    '--kl-divergence-base',
    baseFile,
    '--kl-divergence',
    '-ctk',
    ctk,
    '-ctv',
    ctv,
    '-fa',
    ctv !== 'f16' ? 'on' : 'auto',
  ];
}

/** The part of a configuration accuracy depends on, beside the artifact. */
export const accuracyKey = (config: Config) => ({
  ctk: String(config.cache_type_k ?? 'f16'),
  ctv: String(config.cache_type_v ?? 'f16'),
});

const asset = (name: string) => shippedFile(path.join('assets', name));

/** The built-in evaluation text (held-out Python standard library modules, PSF License 2.0). */
export const builtinEvalText = () => asset('eval-python-stdlib.txt');
/**
 * The built-in calibration text for importance matrices (other standard library modules; never the evaluation
 * text).
 */
export const builtinCalibrationText = () => asset('calib-python-stdlib.txt');
