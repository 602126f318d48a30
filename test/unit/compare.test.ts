import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { compareText, markdownTable, ruleRelation } from '../../src/core/compare';
import { configDiff, describeChanges, knobValue } from '../../src/core/configDiff';
import type { ObjectiveSpec } from '../../src/core/objective';
import type { Config, TrialRecord } from '../../src/core/types';
import { statOfSamples } from '../../src/core/verdict';

const MiB = 2 ** 20;
const decode: ObjectiveSpec = { kind: 'decode' };

test('configDiff: the knobs that differ, in the space order, flags as on/off, a knob only one side sets included', () => {
  const from: Config = { quant: 'Q4_0', threads: 2, flash_attn: false, batch: 2048, ubatch: 512 };
  const to: Config = { quant: 'Q4_0', threads: 4, flash_attn: true, batch: 2048, ubatch: 256, imatrix: 'sample' };
  const order = ['quant', 'imatrix', 'threads', 'flash_attn', 'batch', 'ubatch'];
  const d = configDiff(from, to, order);
  assert.deepEqual(
    d.map((c) => c.knob),
    ['imatrix', 'threads', 'flash_attn', 'ubatch'],
  );
  assert.equal(describeChanges(d), 'imatrix – → sample, threads 2 → 4, flash_attn off → on, ubatch 512 → 256');
  // Without an order: the configurations' own order.
  assert.deepEqual(
    configDiff(from, to).map((c) => c.knob),
    ['threads', 'flash_attn', 'ubatch', 'imatrix'],
  );
  assert.deepEqual(configDiff(from, { ...from }), []);
  assert.equal(describeChanges([]), 'no knob differs');
  assert.equal(knobValue(0), '0');
  assert.equal(knobValue(undefined), '–');
});

function trial(index: number, quant: string, samples: number[], over: Partial<TrialRecord> = {}): TrialRecord {
  return {
    type: 'trial',
    index,
    key: `k${index}`,
    config: { quant, threads: 2, flash_attn: false, batch: 2048, ubatch: 512 },
    status: 'done',
    metrics: {
      decode: statOfSamples(samples),
      prefill: statOfSamples(samples.map((x) => x * 10)),
      fileSizeBytes: 30 * MiB,
    },
    strategy: 'grid',
    rationale: `grid point ${index}`,
    startedAt: '',
    endedAt: '',
    durationMs: 0,
    ...over,
  };
}

/** #1 and #2 decode within noise of each other (the verdict: #2, more accurate); #3 is slower beyond noise. */
function tiedTrials(): TrialRecord[] {
  const acc = (dPplPct: number, dPplPctErr: number, kld: number) => ({
    ppl: 10,
    pplBase: 10,
    dPplPct,
    dPplPctErr,
    kld,
  });
  const t1 = trial(1, 'Q2_K', [880, 905, 894, 899, 887, 902, 891, 897]);
  t1.metrics.accuracy = acc(9.1, 0.8, 0.082);
  const t2 = trial(2, 'Q4_K_M', [885, 897, 890, 893, 888, 894, 891, 889]);
  t2.metrics.accuracy = acc(1.1638999999999955, 0.5812345, 0.0110004);
  const t3 = trial(3, 'Q8_0', [400, 402, 399], {
    config: { quant: 'Q8_0', threads: 2, flash_attn: true, batch: 2048, ubatch: 256 },
  });
  t3.metrics.accuracy = acc(0.1, 0.05, 0.001);
  t3.metrics.fileSizeBytes = 50 * MiB;
  return [t1, t2, t3];
}

test('compareText: knobs side by side with the differing ones marked, metrics rounded as the panel, the standing and the rule', () => {
  const trials = tiedTrials();
  const text = compareText(decode, trials, trials[1], trials[2], ['quant', 'threads', 'flash_attn', 'batch', 'ubatch']);
  assert.match(text, /^# #3 Q8_0 compared with ★ #2 Q4_K_M$/m);
  const row = (name: string) => text.split('\n').find((l) => new RegExp(`^\\| [≠ ]\\s*\\| ${name}\\s`).test(l));
  assert.match(row('quant')!, /^\| ≠ +\| quant +\| Q4_K_M +\| Q8_0 +\|$/);
  assert.match(row('flash_attn')!, /^\| ≠ +\| flash_attn +\| off +\| on +\|$/);
  assert.match(row('ubatch')!, /^\| ≠ +\| ubatch +\| 512 +\| 256 +\|$/);
  assert.match(row('threads')!, /^\| {2,}\| threads +\| 2 +\| 2 +\|$/);
  assert.match(text, /## Knobs \(≠: the 3 that differ\)/);
  // Rounded as the panel's table: mean ± sd to 1 place (with n), ΔPPL ± its error to 2, KLD to 4.
  assert.match(text, /\| decode t\/s +\| 890\.9 ± 3\.8 \(n 8\) +\| 400\.3 ± 1\.5 \(n 3\) +\|/);
  assert.match(text, /\| ΔPPL % +\| 1\.16 ± 0\.58 +\| 0\.10 ± 0\.05 +\|/);
  assert.match(text, /\| KLD +\| 0\.0110 +\| 0\.0010 +\|/);
  assert.match(text, /\| size MiB +\| 30\.0 +\| 50\.0 +\|/);
  assert.doesNotMatch(text, /\d\.\d{5,}/, 'an unrounded number');
  assert.match(
    text,
    /\*\*Standing:\*\* #3 Q8_0 is not the verdict: #2 Q4_K_M decodes 122\.\d % faster, beyond noise\./,
  );
  assert.match(
    text,
    /\*\*By the rule\*\* \(Welch's t-test at 95 % and a margin of 1 %\): #2 Q4_K_M decodes 122\.\d % faster than #3 Q8_0, beyond noise\./,
  );
  assert.match(text, /- #3 Q8_0: grid point 3 \(proposed by grid\)/);
  // Every line of a table has one width (it reads as a table in the editor too).
  const tableLines = text.split('\n').filter((l) => l.startsWith('|'));
  const knobLines = tableLines.slice(0, 7);
  assert.equal(new Set(knobLines.map((l) => [...l].length)).size, 1, knobLines.join('\n'));
});

test('compareText: a trial tied with the verdict is "not separated"; the verdict itself gets one column', () => {
  const trials = tiedTrials();
  const tied = compareText(decode, trials, trials[1], trials[0]);
  assert.match(tied, /\*\*Standing:\*\* #1 Q2_K is tied with the verdict #2 Q4_K_M \(within noise\)/);
  assert.match(tied, /#2 Q4_K_M and #1 Q2_K are not separated by the rule \(decode 0\.\d % apart\)/);
  const self = compareText(decode, trials, trials[1], trials[1]);
  assert.match(self, /^# #2 Q4_K_M: ★ the verdict$/m);
  assert.match(self, /^\| metric +\| ★ #2 Q4_K_M +\|$/m);
  assert.doesNotMatch(self, /By the rule/);
  assert.doesNotMatch(self, /≠/);
});

test('ruleRelation: the faster of the two named whichever is passed first; no measurement, no relation', () => {
  const [, t2, t3] = tiedTrials();
  assert.match(ruleRelation(decode, t3, t2), /^#2 Q4_K_M decodes 122\.\d % faster than #3 Q8_0, beyond noise$/);
  const failed = trial(4, 'Q4_0', [1], { status: 'failed', metrics: {} });
  assert.equal(ruleRelation(decode, t2, failed), 'no decode to compare: #4 Q4_0 has none');
});

test('markdownTable pads every column to one width and escapes pipes', () => {
  const t = markdownTable(
    ['a', 'bb'],
    [
      ['x|y', 'long value'],
      ['', 'z'],
    ],
  );
  assert.equal(
    t,
    ['| a    | bb         |', '| ---- | ---------- |', '| x\\|y | long value |', '|      | z          |'].join('\n'),
  );
});
