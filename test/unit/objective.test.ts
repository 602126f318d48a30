import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { leader, paretoFront, score, violations } from '../../src/core/objective';
import type { TrialRecord } from '../../src/core/types';

const t = (
  index: number,
  decode: number,
  prefill: number,
  sizeMiB: number,
  status: TrialRecord['status'] = 'done',
): TrialRecord => ({
  type: 'trial',
  index,
  key: String(index),
  config: { quant: `q${index}` },
  status,
  strategy: 'x',
  startedAt: '',
  endedAt: '',
  durationMs: 0,
  metrics: {
    decode: { mean: decode, sd: 1, n: 3 },
    prefill: { mean: prefill, sd: 1, n: 3 },
    fileSizeBytes: sizeMiB * 2 ** 20,
    peakHostMemBytes: 2 * sizeMiB * 2 ** 20,
  },
});

test('scores: decode, prefill, weighted geometric balance', () => {
  const m = t(1, 100, 400, 10).metrics;
  assert.equal(score({ kind: 'decode' }, m), 100);
  assert.equal(score({ kind: 'prefill' }, m), 400);
  assert.equal(score({ kind: 'balanced' }, m), 200);
  assert.ok(Math.abs(score({ kind: 'balanced', decodeWeight: 1 }, m)! - 100) < 1e-9);
  assert.equal(score({ kind: 'decode' }, {}), undefined);
});

test('constraints: size and memory', () => {
  const m = t(1, 100, 400, 10).metrics;
  assert.deepEqual(violations({ kind: 'decode', maxSizeBytes: 20 * 2 ** 20, maxMemBytes: 30 * 2 ** 20 }, m), []);
  assert.match(violations({ kind: 'decode', maxSizeBytes: 5 * 2 ** 20 }, m).join(), /file size 10.0 MiB > max 5.0 MiB/);
  assert.match(violations({ kind: 'decode', maxMemBytes: 15 * 2 ** 20 }, m).join(), /peak memory 20.0 MiB/);
});

test('best ignores failed and infeasible trials; Pareto keeps only non-dominated speed × size', () => {
  const trials = [
    t(1, 100, 1, 10),
    t(2, 120, 1, 20),
    t(3, 90, 1, 15),
    t(4, 500, 1, 1, 'infeasible'),
    t(5, 80, 1, 5),
    t(6, 999, 1, 1, 'failed'),
  ];
  assert.equal(leader({ kind: 'decode' }, trials)!.index, 2);
  assert.deepEqual(
    paretoFront({ kind: 'decode' }, trials)
      .map((x) => x.index)
      .sort(),
    [1, 2, 5],
  );
  assert.equal(leader({ kind: 'decode' }, []), undefined);
});
