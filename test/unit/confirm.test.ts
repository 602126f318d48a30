import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HaqaError, haltingError } from '../../src/core/errors';
import type { runOptimize } from '../../src/core/session';
import type { Toolchain, TrialContext, TrialOutcome } from '../../src/core/toolchains/toolchain';
import type { Config } from '../../src/core/types';
import { statOfSamples } from '../../src/core/verdict';
import { gridLoop, replayGrid } from '../helpers/replay';

/**
 * A toolchain whose trials decode at a speed per configuration (the first three the grid strategy proposes: 100, 98
 * and 60 t/s, noisy) and whose confirmation runs are answered by `confirmRun` (null: like the trial).
 */
function scripted(confirmRun: (n: number, tag: string, base: number) => number[] | null) {
  const space = replayGrid().space;
  const speeds = new Map<string, number>();
  const runs: { index: number; tag?: string }[] = [];
  let confirms = 0;
  const tc: Toolchain = {
    name: 'scripted',
    space,
    info: () => ({ toolchain: 'scripted' }),
    async runTrial(config: Config, ctx: TrialContext): Promise<TrialOutcome> {
      runs.push({ index: ctx.trialIndex, tag: ctx.logTag });
      const key = space.key(config);
      if (!speeds.has(key)) speeds.set(key, [100, 98, 60][speeds.size] ?? 10);
      const base = speeds.get(key)!;
      const samples = ctx.logTag
        ? (confirmRun(confirms++, ctx.logTag, base) ?? [base - 3, base, base + 3])
        : [base - 8, base, base + 8];
      return { status: 'done', metrics: { decode: statOfSamples(samples), fileSizeBytes: 4e6 }, steps: [] };
    },
  };
  return { tc, runs };
}

const session = (tc: Toolchain, confirm: Parameters<typeof runOptimize>[0]['confirm'], pauses: number[] = []) =>
  gridLoop(tc, {
    budget: 3,
    confirm,
    confirmSleep: async (ms) => {
      pauses.push(ms);
    },
  });

test('confirmation: the leaders are measured again interleaved (A B A′ per round), pooled, and the verdict counts them', async () => {
  const { tc, runs } = scripted(() => null);
  const { store, summary, info } = await session(tc, { rounds: 2, driftLimit: 0.1 });
  // #1 (100) and #2 (98) are tied; #3 (60) is beaten by both, but is among the top 3.
  const tags = runs.filter((r) => r.tag).map((r) => r.tag);
  assert.deepEqual(tags, [
    'confirm-01-001',
    'confirm-01-002',
    'confirm-01-003',
    'confirm-01-001-anchor',
    'confirm-02-001',
    'confirm-02-002',
    'confirm-02-003',
    'confirm-02-001-anchor',
  ]);
  const t1 = summary.trials.find((t) => t.index === 1)!;
  assert.equal(t1.metrics.decode!.n, 3 + 4 * 3, 'two runs and two anchor runs pooled into #1');
  assert.equal(t1.confirmedRuns, 4);
  assert.equal(summary.verdict.confirmations, 8);
  assert.ok(
    info.some((m) => /confirming the verdict: #\d, #\d, #3 measured again, interleaved, 2 round/.test(m)),
    info.join('\n'),
  );
  assert.equal(store.readConfirmations().filter((e) => e.type === 'confirm').length, 8);
  assert.equal(
    store.readTrials().trials.find((t) => t.index === 1)!.metrics.decode!.n,
    15,
    'a reader sees the pooled figures',
  );
  assert.equal(store.readTrials().trials.length, 3, 'confirmation runs are not trials');
});

test('confirmation: a drifting anchor discards the round, pauses, and repeats it; only kept rounds are pooled', async () => {
  const pauses: number[] = [];
  // The 4th confirmation run is round 1's anchor again: 30 % slower (a background job).
  const { tc, runs } = scripted((n, _tag, base) => (n === 3 ? [base * 0.7 - 1, base * 0.7, base * 0.7 + 1] : null));
  const { store, summary, info } = await session(tc, { rounds: 1, driftLimit: 0.1, pauseMs: 1234 }, pauses);
  assert.deepEqual(pauses, [1234]);
  const entries = store.readConfirmations();
  const discard = entries.find((e) => e.type === 'confirm-discard');
  assert.ok(discard && discard.round === 1 && discard.drift > 0.25, JSON.stringify(discard));
  assert.ok(
    info.some((m) => /confirmation round 1 discarded: the anchor #\d drifted 30\.\d %/.test(m)),
    info.join('\n'),
  );
  assert.equal(runs.filter((r) => r.tag?.startsWith('confirm-02-')).length, 4, 'the round was repeated as round 2');
  assert.equal(summary.verdict.confirmations, 4, 'only the kept round is pooled');
});

test('confirmation: a trial the pooled figures bring into contention is measured again too, beside the pooled best', async () => {
  // #1 (100) and #2 (98) are confirmed (at most 2 candidates); their runs come in 40 % lower, so the pooled figures
  // no longer separate them from #3 (60, measured once): #3 must not be judged on its single run.
  const { tc, runs } = scripted((_n, tag, base) =>
    tag.endsWith('-003') ? null : [base * 0.6 - 3, base * 0.6, base * 0.6 + 3],
  );
  const { summary, info } = await session(tc, { rounds: 1, driftLimit: 0.1, maxCandidates: 2 });
  const tags = runs.filter((r) => r.tag).map((r) => r.tag!);
  assert.equal(tags.filter((t) => t.startsWith('confirm-01-')).length, 3, tags.join(' '));
  assert.ok(!tags.some((t) => t.startsWith('confirm-01-003')), 'round 1 measures the two candidates only');
  assert.ok(tags.includes('confirm-02-003'), `#3 is measured again in a second phase: ${tags.join(' ')}`);
  assert.ok(
    info.some((m) => /confirming again: #3 came within noise of the pooled best #[12]/.test(m)),
    info.join('\n'),
  );
  assert.equal(summary.trials.find((t) => t.index === 3)!.confirmedRuns, 1);
});

test('confirmation off: nothing is measured again', async () => {
  const { tc, runs } = scripted(() => null);
  const { store, summary } = await session(tc, false);
  assert.equal(runs.filter((r) => r.tag).length, 0);
  assert.equal(store.readConfirmations().length, 0);
  assert.equal(summary.verdict.confirmations, 0);
});

test('confirmation: the machine failing (a halting error, e.g. a full disk) stops it at once with the cause', async () => {
  const { tc, runs } = scripted(() => null);
  const trial = tc.runTrial.bind(tc);
  tc.runTrial = async (config, ctx) => {
    if (ctx.logTag)
      throw haltingError(new HaqaError('no space left on the disk of the session', 'free space', 'input'));
    return trial(config, ctx);
  };
  const { summary, info } = await session(tc, { rounds: 3 });
  assert.equal(runs.filter((r) => r.tag).length, 0);
  assert.ok(
    info.some((m) => /^confirmation stopped: no space left on the disk of the session \(fix: free space\)/.test(m)),
    info.join('\n'),
  );
  assert.equal(summary.verdict.confirmations, 0);
});
