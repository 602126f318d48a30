import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveStrategy } from '../../src/core/strategies';
import { HaqaError } from '../../src/core/errors';
import { replaySession, replayGrid } from '../helpers/replay';
import { tmpDir } from '../helpers/fixtures';

const NAMES = ['grid', 'random', 'tpe', 'heuristic', 'builtin'];

for (const name of NAMES) {
  test(`${name}: same seed → same trials; every proposal valid and new`, async () => {
    const a = await replaySession(tmpDir(), name, 12, 7);
    const b = await replaySession(tmpDir(), name, 12, 7);
    const keys = (s: typeof a) => s.summary.trials.map((t) => t.key);
    assert.deepEqual(keys(a), keys(b));
    assert.equal(a.summary.trials.length, 12);
    assert.equal(new Set(keys(a)).size, 12, 'a configuration was measured twice');
    const space = replayGrid().space;
    for (const t of a.summary.trials) assert.deepEqual(space.validate(t.config), []);
    assert.ok(a.summary.best);
  });
}

test('seeded strategies differ across seeds', async () => {
  for (const name of ['random', 'tpe']) {
    const a = await replaySession(tmpDir(), name, 8, 1);
    const b = await replaySession(tmpDir(), name, 8, 2);
    assert.notDeepEqual(
      a.summary.trials.map((t) => t.key),
      b.summary.trials.map((t) => t.key),
      name,
    );
  }
});

test('builtin opens with the hardware-aware design, each proposal with a rationale', async () => {
  const { summary } = await replaySession(tmpDir(), 'builtin', 6, 0);
  assert.equal(summary.trials[0].config.quant, 'Q4_0');
  assert.equal(summary.trials[0].config.threads, 2);
  for (const t of summary.trials) assert.ok((t.rationale ?? '').length > 10, `trial ${t.index} has no rationale`);
  assert.match(summary.trials[5].rationale!, /TPE/);
});

test('grid exhausts a space and then stops by itself', async () => {
  const n = replayGrid().recorded().length;
  const { summary } = await replaySession(tmpDir(), 'grid', n + 5, 0);
  assert.equal(summary.trials.length, n);
  assert.match(summary.stopReason, /exhausted/);
});

test('auto says it runs builtin without an endpoint; llm and unknown names are refused clearly', () => {
  const r = resolveStrategy('auto');
  assert.equal(r.strategy.name, 'builtin');
  assert.match(r.note!, /no LLM endpoint configured/);
  assert.throws(
    () => resolveStrategy('llm'),
    (e: unknown) => e instanceof HaqaError && e.code === 'usage',
  );
  assert.throws(() => resolveStrategy('bogus'), /unknown strategy/);
});
