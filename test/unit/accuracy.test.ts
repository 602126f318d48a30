import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { accuracyMetrics, builtinEvalText, kldArgs, parsePerplexityOutput } from '../../src/core/toolchains/llamacpp/accuracy';
import { paretoFront, violations } from '../../src/core/objective';
import type { TrialRecord } from '../../src/core/types';
import { FIXTURES } from '../helpers/fixtures';

const read = (f: string) => fs.readFileSync(path.join(FIXTURES, f), 'utf8');

test('parses real llama-perplexity output: the base run and a KL-divergence run', () => {
  const base = parsePerplexityOutput(read('llama-perplexity-base.txt'));
  assert.equal(base.ppl, 18.4449);
  assert.equal(base.pplErr, 1.57399);
  assert.equal(base.chunks, 4);
  const k = parsePerplexityOutput(read('llama-perplexity-kld.txt'));
  assert.ok(k.ppl! > k.pplBase!);
  assert.ok(k.ratio! > 1 && k.ratioErr! > 0);
  assert.ok(k.kld! > 0 && k.kldErr! > 0 && k.kld99! > k.kld!);
  assert.ok(k.sameTopPct! > 50 && k.sameTopPct! < 100);
  const m = accuracyMetrics(k)!;
  assert.ok(Math.abs(m.dPplPct - (k.ratio! - 1) * 100) < 1e-9);
  assert.equal(m.kld, k.kld);
  assert.equal(accuracyMetrics(base), undefined, 'a base run has no drift');
});

test('the KLD run gets the trial\'s KV cache types (a quantized V cache with flash attention) as argv values', () => {
  const a = kldArgs('/bin/llama-perplexity', 'm.gguf', 'b.kld', { evalFile: 'e.txt', chunks: 8, ctx: 512 }, 2, false, { cache_type_k: 'q8_0', cache_type_v: 'q4_0' });
  assert.deepEqual(a.slice(-6), ['-ctk', 'q8_0', '-ctv', 'q4_0', '-fa', 'on']);
  assert.ok(a.includes('--kl-divergence') && a.includes('--chunks'));
  assert.ok(builtinEvalText() && fs.statSync(builtinEvalText()!).size < 200_000);
});

const t = (index: number, decode: number, size: number, kld?: number, dppl?: number): TrialRecord => ({
  type: 'trial', index, key: String(index), config: {}, status: 'done', strategy: 'x', startedAt: '', endedAt: '', durationMs: 0,
  metrics: { decode: { mean: decode, sd: 0, n: 1 }, fileSizeBytes: size, accuracy: kld === undefined ? undefined : { kld, dPplPct: dppl ?? 0, dPplPctErr: 0, ppl: 1, kldErr: 0 } },
});

test('accuracy limits make trials infeasible; the Pareto front adds accuracy when every trial measured it', () => {
  assert.deepEqual(violations({ kind: 'decode', maxDeltaPplPct: 5 }, t(1, 10, 1, 0.3, 23).metrics), ['ΔPPL 23.00 % > max 5 %']);
  assert.deepEqual(violations({ kind: 'decode', maxKld: 0.1 }, t(1, 10, 1, 0.3, 23).metrics), ['mean KLD 0.3000 > max 0.1']);
  assert.deepEqual(violations({ kind: 'decode', maxKld: 0.1 }, t(1, 10, 1).metrics), ['accuracy was not measured (an accuracy limit is set)']);
  // #2 is slower and bigger than #1 but far more accurate: on the front only with accuracy counted.
  const fast = t(1, 100, 10, 0.3);
  const accurate = t(2, 90, 20, 0.001);
  assert.deepEqual(paretoFront({ kind: 'decode' }, [fast, accurate]).map((x) => x.index), [1, 2]);
  assert.deepEqual(paretoFront({ kind: 'decode' }, [t(1, 100, 10), t(2, 90, 20)]).map((x) => x.index), [1]);
});
