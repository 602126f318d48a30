import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { standing, verdictBadge } from '../../src/core/standing';
import { statOfSamples, verdict } from '../../src/core/verdict';
import type { TrialRecord, TrialStatus } from '../../src/core/types';

const trial = (
  index: number,
  quant: string,
  decode: number[],
  kld?: number,
  status: TrialStatus = 'done',
  cause?: string,
): TrialRecord => ({
  type: 'trial',
  index,
  key: `k${index}`,
  config: { quant, threads: 2 },
  status,
  cause,
  metrics: {
    decode: decode.length ? statOfSamples(decode) : undefined,
    prefill: decode.length ? statOfSamples(decode.map((x) => x * 10)) : undefined,
    fileSizeBytes: 4e6,
    ...(kld !== undefined ? { accuracy: { kld, dPplPct: kld * 100 } } : {}),
  },
  strategy: 'test',
  startedAt: '',
  endedAt: '',
  durationMs: 0,
});

// Three leaders within noise of each other (the tie goes to the most accurate), one beaten beyond noise, one over a
// limit, one failed.
// (Eight runs each, as after confirmation: enough to show each within 5 % of the leader.)
const TIED = [
  trial(1, 'Q2_K', [880, 905, 894, 899, 887, 902, 891, 897], 0.082),
  trial(2, 'Q4_K_M', [885, 897, 890, 893, 888, 894, 891, 889], 0.011),
  trial(3, 'Q4_0', [880, 899, 893, 887, 895, 890, 884, 892], 0.03),
  trial(4, 'Q8_0', [400, 402, 399], 0.001),
  trial(5, 'Q6_K', [2000, 2001, 2002], 0.002, 'infeasible', 'size 9.0 MiB > max 8 MiB'),
  trial(6, 'IQ1_S', [], undefined, 'failed', 'load error'),
];

test('standing: the verdict, the tied, one beaten beyond noise, one over a limit, one unmeasured, each in a sentence', () => {
  const o = { kind: 'decode' as const };
  const v = verdict(o, TIED);
  assert.equal(v.best, 2);
  assert.deepEqual(v.tied, [3, 1]);
  const at = (i: number) => standing(o, TIED, v, i);
  assert.deepEqual(at(2), { kind: 'verdict', sentence: `#2 Q4_K_M is the verdict: ${v.reason}` });
  assert.match(v.reason, /^#2 Q4_K_M, #3 Q4_0 and #1 Q2_K decode within noise of each other/);
  assert.deepEqual(at(1), {
    kind: 'tied',
    sentence: `#1 Q2_K is tied with the verdict #2 Q4_K_M (within noise); verdict: ${v.reason}`,
  });
  assert.equal(at(3).kind, 'tied');
  assert.deepEqual(at(4), {
    kind: 'beaten',
    sentence: '#4 Q8_0 is not the verdict: #2 Q4_K_M decodes 122.5 % faster, beyond noise',
  });
  assert.deepEqual(at(5), {
    kind: 'infeasible',
    sentence:
      "#5 Q6_K is not the verdict: it is over the session's limits (size 9.0 MiB > max 8 MiB); the verdict is #2 Q4_K_M",
  });
  assert.deepEqual(at(6), {
    kind: 'unmeasured',
    sentence: '#6 IQ1_S is not the verdict: it was not measured; the verdict is #2 Q4_K_M',
  });
  assert.equal(at(9).sentence, '#9 is not the verdict: it was not measured; the verdict is #2 Q4_K_M');
});

test('standing: a trial beaten by the leader but not by the verdict (chosen among those tied with the leader) names both', () => {
  // #1 is steady and fastest; #2 is as fast within its noise and more accurate, so it is the verdict; #3 is beaten by
  // #1 beyond noise, while #2's noise cannot separate it from #3.
  const trials = [
    trial(1, 'Q4_0', [1000, 1001, 999, 1000, 1001, 999], 0.05),
    trial(2, 'Q4_K_M', [940, 1060, 1000, 960, 1040, 1000], 0.01),
    trial(3, 'Q8_0', [970, 971, 969, 970, 971, 969], 0.001),
  ];
  const o = { kind: 'decode' as const };
  const v = verdict(o, trials);
  assert.equal(v.best, 2, v.reason);
  assert.deepEqual(v.tied, [1]);
  assert.deepEqual(standing(o, trials, v, 3), {
    kind: 'beaten',
    sentence: '#3 Q8_0 is not the verdict: #1 Q4_0 decodes 3.1 % faster, beyond noise; the verdict is #2 Q4_K_M',
  });
  const p = { kind: 'prefill' as const };
  assert.match(standing(p, TIED, verdict(p, TIED), 4).sentence, /#2 Q4_K_M prefills 122\.5 % faster, beyond noise$/);
  const b = { kind: 'balanced' as const };
  assert.match(standing(b, TIED, verdict(b, TIED), 4).sentence, /#2 Q4_K_M scores 122\.5 % higher, beyond noise$/);
});

test('verdictBadge: the verdict and its tie in a few characters', () => {
  const o = { kind: 'decode' as const };
  const v = verdict(o, TIED);
  assert.equal(verdictBadge(v, TIED), '★ #2 Q4_K_M (≈ #3, #1)');
  assert.equal(
    verdictBadge(v, TIED, (t) => `${t.metrics.decode!.mean.toFixed(1)} t/s`),
    '★ #2 Q4_K_M 890.9 t/s (≈ #3, #1)',
  );
  assert.equal(verdictBadge(v, TIED, undefined, 1), '★ #2 Q4_K_M (≈ #3 +1)');
  const alone = verdict(o, [TIED[1], TIED[3]]);
  assert.equal(verdictBadge(alone, TIED), '★ #2 Q4_K_M');
  assert.equal(verdictBadge(verdict(o, [TIED[5]]), [TIED[5]]), 'no feasible trial');
  assert.match(standing(o, [TIED[5]], verdict(o, [TIED[5]]), 6).sentence, /\(no feasible trial\)$/);
});

test('standing: a trial the rule cannot separate from the verdict but cannot show close either is unresolved', () => {
  const o = { kind: 'decode' as const };
  const trials = [trial(1, 'Q2_K', [830, 960, 894], 0.082), trial(2, 'Q4_K_M', [885, 897, 890], 0.011)];
  const v = verdict(o, trials);
  assert.equal(v.best, 1);
  assert.deepEqual(v.unresolved, [2]);
  const s = standing(o, trials, v, 2);
  assert.equal(s.kind, 'unresolved');
  assert.match(
    s.sentence,
    /^#2 Q4_K_M is not the verdict: the rule cannot separate it from #1 Q2_K, nor show it within 5 % of it/,
  );
});
