import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { declared, gridOptimum, nearOptimum, nearRate, type RunResult } from '../../bench/agent';
import { compare, statOfSamples } from '../../src/core/verdict';
import type { TrialRecord } from '../../src/core/types';

const row = (index: number, decode: number[], fileSizeBytes = 4e6, quant = 'Q4_0'): TrialRecord => ({
  type: 'trial',
  index,
  key: `k${index}`,
  config: { quant, threads: 2 },
  status: 'done',
  metrics: { decode: statOfSamples(decode), fileSizeBytes },
  strategy: 'test',
  startedAt: '',
  endedAt: '',
  durationMs: 0,
});

const decode = { kind: 'decode' as const };

test('gridOptimum: rows with overlapping samples are within noise of the optimum, a separated row is not', () => {
  const grid = [
    row(1, [1000, 1004, 998, 1001], 6e6, 'Q8_0'), // the highest mean, steady
    row(2, [940, 1060, 990, 1010], 3e6, 'Q2_K'), // overlaps 1: not separated, but too noisy to be shown close
    row(3, [900, 905, 897, 902], 4e6), // separated from 1 beyond noise
  ];
  const opt = gridOptimum(decode, grid);
  assert.equal(opt.rows, 3);
  assert.equal(opt.top?.index, 1);
  assert.equal(opt.best?.index, 1, opt.verdict.reason);
  assert.deepEqual(opt.verdict.unresolved, [2]);
  assert.deepEqual([...opt.near].sort(), ['k1', 'k2']);
  assert.equal(nearOptimum(opt, grid[0]), true);
  assert.equal(nearOptimum(opt, grid[1]), true);
  assert.equal(nearOptimum(opt, grid[2]), false);
  assert.equal(nearOptimum(opt, undefined), false);
});

test('gridOptimum: within noise means no row beats it by the rule, not merely tied with the chosen row', () => {
  // Row 2 is so noisy that the rule separates it from nothing (unresolved, never chosen over the top); row 3 is not
  // separated from row 2 but the steady top row 1 beats it beyond noise: row 3 is not within noise of the optimum.
  const grid = [
    row(1, [1000, 1002, 998], 6e6, 'Q8_0'),
    row(2, [600, 1000, 800], 2e6, 'Q2_K'),
    row(3, [900, 902, 898], 4e6),
  ];
  const opt = gridOptimum(decode, grid);
  assert.equal(opt.best?.index, 1, opt.verdict.reason);
  assert.equal(compare(grid[2].metrics.decode!, grid[1].metrics.decode!).order, 0, 'not separated from row 2');
  assert.equal(compare(grid[0].metrics.decode!, grid[2].metrics.decode!).order, 1, 'beaten by the top row');
  assert.deepEqual([...opt.near].sort(), ['k1', 'k2']);
  assert.equal(opt.nearTop, 2);
  // The set is exactly the rows no grid row beats.
  for (const t of grid)
    assert.equal(
      opt.near.has(t.key),
      !grid.some((y) => compare(y.metrics.decode!, t.metrics.decode!).order === 1),
      `row ${t.index}`,
    );
});

test('gridOptimum: a noisy top row does not pull in a row that a steadier one beats', () => {
  const grid = [
    row(1, [700, 1300, 1000], 6e6, 'Q8_0'), // the highest mean, very noisy: beats nothing
    row(2, [950, 952, 948], 4e6), // steady
    row(3, [850, 852, 848], 3e6, 'Q2_K'), // steady, beaten by row 2 (not by row 1)
  ];
  const opt = gridOptimum(decode, grid);
  assert.equal(opt.top?.index, 1);
  assert.deepEqual([...opt.near].sort(), ['k1', 'k2']);
  assert.equal(nearOptimum(opt, grid[2]), false);
  assert.equal(opt.nearTop, 3, 'against the top row alone, all three would count');
});

test('declared: before = argmax of means, after = the verdict, each scored at every checkpoint', () => {
  const grid = [
    row(1, [1000, 1002, 998], 6e6, 'Q8_0'), // the top, steady
    row(2, [850, 1100, 950], 2e6, 'Q2_K'), // noisy: not separated from 1, not shown close either; smallest file
    row(3, [960, 962, 958], 4e6), // beaten by 1
  ];
  const opt = gridOptimum(decode, grid);
  assert.deepEqual([...opt.near].sort(), ['k1', 'k2']);
  // A session that saw row 3, then 2, then 1 (its own indices; keys name the configurations).
  const session = [grid[2], grid[1], grid[0]].map((t, i) => ({ ...t, index: i + 1 }));
  const d = declared(decode, opt, session, [1, 2, 3]);
  assert.deepEqual(
    d.map((x) => [x.trials, x.before, x.after]),
    [
      [1, false, false], // only row 3
      [2, true, true], // row 2: the higher mean; row 3 is unresolved against it, so the verdict keeps the leader
      [3, true, true], // leader row 1; row 2 is unresolved (never traded for the leader by its smaller file)
    ],
  );
  assert.ok(Math.abs(d[0].beforeRegret - 0.04) < 1e-9, String(d[0].beforeRegret));
  assert.equal(d[2].beforeRegret, 0);
  assert.equal(d[2].afterRegret, 0);
  const runs = [{ declared: d }, { declared: declared(decode, opt, session.slice(0, 1), [1, 2, 3]) }] as RunResult[];
  assert.equal(nearRate(runs, 2, 'before'), 0.5);
  assert.equal(nearRate(runs, 0, 'after'), 0);
});

test('declared: the verdict does not trade the leader for a noisy smaller file that an unseen row beats', () => {
  const grid = [
    row(1, [900, 904, 896], 6e6, 'Q8_0'), // steady
    row(2, [780, 860, 830], 2e6, 'Q2_K'), // noisy, smaller: not separated from row 1, not shown close either
    row(3, [930, 990, 960], 5e6, 'Q4_K_M'), // the highest mean; beats row 2
  ];
  const opt = gridOptimum(decode, grid);
  assert.deepEqual([...opt.near].sort(), ['k1', 'k3']);
  // The session saw rows 1 and 2: the argmax is row 1 (within noise); row 2 is unresolved against it, so the verdict
  // keeps row 1 — under a rule that called such rows tied, the smaller file (row 2, beaten by row 3) would have won.
  const [d] = declared(decode, opt, [grid[0], grid[1]], [2]);
  assert.deepEqual([d.before, d.after], [true, true]);
});
