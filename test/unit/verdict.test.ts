import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  compare,
  objectiveStat,
  paretoFront,
  plausibleShortfall,
  statOfSamples,
  verdict,
} from '../../src/core/verdict';
import type { Stat, TrialRecord } from '../../src/core/types';

const st = (samples: number[]): Stat => statOfSamples(samples);

const trial = (
  index: number,
  decode: number[],
  extra: Partial<TrialRecord['metrics']> = {},
  quant = 'Q4_0',
): TrialRecord => ({
  type: 'trial',
  index,
  key: `k${index}`,
  config: { quant, threads: 2 },
  status: 'done',
  metrics: { decode: st(decode), fileSizeBytes: 4e6, ...extra },
  strategy: 'test',
  startedAt: '',
  endedAt: '',
  durationMs: 0,
});

test('compare: overlapping samples are tied; separated ones are ordered; a tiny certain gap is under the margin', () => {
  const a = st([894, 960, 830]);
  const b = st([890, 885, 897]);
  assert.equal(compare(a, b).order, 0, 'means 894.7 ± 65 vs 890.7 ± 6: noise');
  const fast = st([1000, 1004, 998, 1001]);
  const slow = st([900, 905, 897, 902]);
  const c = compare(fast, slow);
  assert.equal(c.order, 1);
  assert.ok(c.t > c.critical && c.critical > 2 && c.df > 4, JSON.stringify(c));
  assert.equal(compare(slow, fast).order, -1);
  // 0.5 % apart with almost no noise: significant, but below the 1 % practical margin.
  assert.equal(compare(st([1005, 1005.1, 1004.9]), st([1000, 1000.1, 999.9])).order, 0);
  assert.equal(
    compare(st([1005, 1005.1, 1004.9]), st([1000, 1000.1, 999.9]), { confidence: 0.95, margin: 0.001 }).order,
    1,
  );
  // One repetition has no variance: never separated.
  assert.equal(compare({ mean: 2000, sd: 0, n: 1 }, { mean: 1000, sd: 0, n: 1 }).order, 0);
  // Without samples, mean ± sd (n) is used.
  assert.equal(compare({ mean: 1000, sd: 2, n: 3 }, { mean: 900, sd: 2, n: 3 }).order, 1);
});

test('verdict: the leader and the trials tied with it; the tie is broken by accuracy (KLD), and the reason says so', () => {
  const acc = (kld: number) => ({ accuracy: { kld, dPplPct: kld * 100, ppl: 1, pplBase: 1 } });
  // Measured often enough (confirmation pools runs) that each is shown within 5 % of the leader.
  const trials = [
    trial(1, [880, 905, 894, 899, 887, 902, 891, 897], acc(0.082), 'Q2_K'),
    trial(2, [885, 897, 890, 893, 888, 894, 891, 889], acc(0.011), 'Q4_K_M'),
    trial(3, [880, 899, 893, 887, 895, 890, 884, 892], acc(0.03), 'Q4_0'),
    trial(4, [400, 402, 399], acc(0.001), 'Q8_0'),
  ];
  const v = verdict({ kind: 'decode' }, trials, { label: (t) => String(t.config.quant) });
  assert.equal(v.best, 2, v.reason);
  assert.deepEqual(v.tied, [3, 1]);
  assert.deepEqual(v.unresolved, []);
  assert.match(
    v.reason,
    /^Q4_K_M, Q4_0 and Q2_K decode within noise of each other \(±\d+\.\d %\); Q4_K_M chosen: most accurate of the tied$/,
  );
  assert.match(v.method, /Welch's t-test at 95 %/);
});

test('verdict: not separated is not tied — a trial that could plausibly be far slower is unresolved and never chosen over the leader', () => {
  const acc = (kld: number) => ({ accuracy: { kld, dPplPct: kld * 100, ppl: 1, pplBase: 1 } });
  // The example before confirmation: Q2_K 894.7 ± 65 over 3 runs leads Q4_K_M 890.7 ± 6: the rule cannot
  // separate them, but Q2_K could plausibly be 18 % faster — choosing the more accurate Q4_K_M would be a guess.
  const trials = [trial(1, [830, 960, 894], acc(0.082), 'Q2_K'), trial(2, [885, 897, 890], acc(0.011), 'Q4_K_M')];
  assert.equal(compare(trials[0].metrics.decode!, trials[1].metrics.decode!).order, 0);
  assert.ok(plausibleShortfall(trials[0].metrics.decode!, trials[1].metrics.decode!) > 0.05);
  const v = verdict({ kind: 'decode' }, trials, { label: (t) => String(t.config.quant) });
  assert.equal(v.best, 1);
  assert.deepEqual(v.tied, []);
  assert.deepEqual(v.unresolved, [2]);
  assert.match(
    v.reason,
    /^Q2_K has the highest decode; Q4_K_M is not separated from it by the rule, but not shown within 5 % of it either \(too noisy to tell: measure again\)$/,
  );
  // Measured again (pooled), the same configurations are shown close: now a tie, broken by accuracy.
  const again = [
    trial(1, [830, 960, 894, 900, 880, 905, 890, 897, 885, 899, 902, 888, 893], acc(0.082), 'Q2_K'),
    trial(2, [885, 897, 890, 893, 888, 894, 891, 889, 892, 890, 895, 887, 891], acc(0.011), 'Q4_K_M'),
  ];
  const w = verdict({ kind: 'decode' }, again, { label: (t) => String(t.config.quant) });
  assert.equal(w.best, 2, w.reason);
  assert.deepEqual(w.tied, [1]);
});

test('verdict: a leader beyond noise wins alone; ties without accuracy go to the smaller file; infeasible never wins', () => {
  const clear = verdict({ kind: 'decode' }, [trial(1, [1000, 1004, 998]), trial(2, [900, 905, 897])]);
  assert.equal(clear.best, 1);
  assert.deepEqual(clear.tied, []);
  assert.match(clear.reason, /^#1 Q4_0 has the highest decode, 11\.1 % ahead of #2 Q4_0, beyond noise$/);
  const small = trial(2, [998, 1004, 1000, 1002], { fileSizeBytes: 3e6 });
  const bySize = verdict({ kind: 'decode' }, [trial(1, [1000, 1006, 999, 1003]), small]);
  assert.equal(bySize.best, 2);
  assert.match(bySize.reason, /smallest file of the tied/);
  const over = { ...trial(3, [5000, 5001, 5002]), status: 'infeasible' as const };
  assert.equal(verdict({ kind: 'decode' }, [trial(1, [1000, 1004, 998]), over]).best, 1);
  assert.equal(verdict({ kind: 'decode' }, [over]).best, undefined);
});

test('objectiveStat: balanced carries both spreads into the score', () => {
  const m = { decode: st([100, 102, 98]), prefill: st([1000, 1000, 1000]) };
  const s = objectiveStat({ kind: 'balanced', decodeWeight: 0.5 }, m)!;
  assert.ok(Math.abs(s.mean - Math.sqrt(100 * 1000)) < 1e-6);
  assert.ok(Math.abs(s.sd / s.mean - 0.5 * (2 / 100)) < 1e-9, `relative sd ${s.sd / s.mean}`);
  assert.equal(s.n, 3);
});

test('verdict: a noisy leader does not pull in a trial that a steadier one beats beyond noise', () => {
  const noisy = trial(1, [560, 700, 626], {}, 'Q3_K_M');
  const steady = trial(2, [607.8, 610.6, 584.7], {}, 'Q4_0');
  const small = trial(3, [525.5, 524.0, 567.4], { fileSizeBytes: 1e6 }, 'Q2_K');
  assert.equal(compare(noisy.metrics.decode!, small.metrics.decode!).order, 0, 'the noisy leader cannot separate them');
  assert.equal(compare(steady.metrics.decode!, small.metrics.decode!).order, 1, 'the steady one beats the small one');
  const v = verdict({ kind: 'decode' }, [noisy, steady, small]);
  assert.notEqual(v.best, 3, 'the smallest file won a tie it was not in');
  assert.deepEqual([v.best, ...v.tied, ...v.unresolved].sort(), [1, 2]);
});

test('the Pareto front agrees with the verdict: a smaller trial only too noisy to tell apart does not push the best off it', () => {
  const rec = (index: number, samples: number[], size: number) =>
    ({
      type: 'trial',
      index,
      key: String(index),
      config: {},
      status: 'done',
      metrics: { decode: statOfSamples(samples), fileSizeBytes: size },
      startedAt: '',
      endedAt: '',
      durationMs: 1,
      strategy: 'x',
    }) as unknown as TrialRecord;
  // As in a replay of the CPU grid: #1 Q4_0 601 ± 14 t/s, 28.9 MiB; #7 Q3_K_M smaller, not separated, too noisy.
  const best = rec(1, [587, 601, 615], 28.9e6);
  const noisy = rec(7, [470, 560, 650], 25e6);
  const v = verdict({ kind: 'decode' }, [best, noisy]);
  assert.equal(v.best, 1);
  assert.deepEqual(v.unresolved, [7]);
  assert.deepEqual(
    paretoFront({ kind: 'decode' }, [best, noisy]).map((t) => t.index),
    [1, 7],
  );
  // Shown within 5 % and smaller: then it does dominate (it would be the verdict's tie-break too).
  const close = rec(8, [599, 600, 601], 25e6);
  const steady = rec(2, [599, 601, 603], 28.9e6);
  assert.deepEqual(
    paretoFront({ kind: 'decode' }, [steady, close]).map((t) => t.index),
    [8],
  );
});

test('verdict: among tied trials, peak memory breaks the tie only beyond 5 %; closer than that, fewer changes from the defaults win', () => {
  const MiB = 2 ** 20;
  // #1 at llama.cpp's batch sizes, #2 a smaller micro-batch: tied on decode, 0.8 % less memory (a 7B on an H200).
  const a = trial(1, [356, 353, 359], { peakDeviceMemBytes: 5717 * MiB });
  const b = trial(2, [355, 352, 358], { peakDeviceMemBytes: 5671 * MiB });
  a.config = { quant: 'Q4_0', batch: 2048, ubatch: 512 };
  b.config = { quant: 'Q4_0', batch: 2048, ubatch: 256 };
  const defaults = { batch: 2048, ubatch: 512 };
  const v = verdict({ kind: 'decode' }, [b, a], { defaults });
  assert.equal(v.best, 1);
  assert.deepEqual(v.tied, [2]);
  assert.match(v.reason, /#1 Q4_0 chosen: fewest changes from the defaults of the tied/);
  // 10 % less memory is a reason.
  b.metrics.peakDeviceMemBytes = 5100 * MiB;
  const w = verdict({ kind: 'decode' }, [b, a], { defaults });
  assert.equal(w.best, 2);
  assert.match(w.reason, /least memory of the tied/);
});
