import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { SessionStore } from '../../src/core/store';
import type { TrialRecord } from '../../src/core/types';
import { gridSpec, replaySession } from '../helpers/replay';
import { CLI, GRID, ROOT, tmpDir } from '../helpers/fixtures';

const rec = (index: number): TrialRecord => ({
  type: 'trial',
  index,
  key: `k${index}`,
  config: { quant: 'Q4_0' },
  status: 'done',
  metrics: { decode: { mean: index, sd: 0, n: 3 } },
  strategy: 'x',
  startedAt: '',
  endedAt: '',
  durationMs: 1,
});

test('append then load; a torn last line is set aside and the next append starts clean', () => {
  const s = SessionStore.create(tmpDir(), { spec: gridSpec(), strategy: { requested: 'x', used: 'x' } });
  s.appendTrial(rec(1));
  s.appendTrial(rec(2));
  fs.appendFileSync(s.trialsFile, '{"type":"trial","index":3,"key":"k3","con');
  const size = fs.statSync(s.trialsFile).size;
  const peek = s.readTrials();
  assert.deepEqual(
    peek.trials.map((t) => t.index),
    [1, 2],
  );
  assert.ok(peek.tornBytes > 0);
  assert.equal(fs.statSync(s.trialsFile).size, size, 'a reader must not change the file');
  const a = s.loadTrials();
  assert.deepEqual(
    a.trials.map((t) => t.index),
    [1, 2],
  );
  assert.ok(a.tornBytes > 0);
  assert.match(fs.readFileSync(`${s.trialsFile}.torn`, 'utf8'), /"index":3/);
  s.appendTrial(rec(3));
  const b = SessionStore.open(path.dirname(path.dirname(s.dir)), s.id).loadTrials();
  assert.deepEqual(
    b.trials.map((t) => t.index),
    [1, 2, 3],
  );
  assert.equal(b.tornBytes, 0);
});

test('a torn complete last line is cut at its own start; blank lines before it are kept', () => {
  const s = SessionStore.create(tmpDir(), { spec: gridSpec(), strategy: { requested: 'x', used: 'x' } });
  s.appendTrial(rec(1));
  fs.appendFileSync(s.trialsFile, '\n');
  s.appendTrial(rec(2));
  fs.appendFileSync(s.trialsFile, '{"type":"trial","ind\n');
  const a = s.loadTrials();
  assert.deepEqual(
    a.trials.map((t) => t.index),
    [1, 2],
  );
  assert.equal(a.tornBytes, Buffer.byteLength('{"type":"trial","ind\n'));
  assert.match(fs.readFileSync(s.trialsFile, 'utf8'), /"index":2.*\n$/);
  s.appendTrial(rec(3));
  assert.deepEqual(
    s.loadTrials().trials.map((t) => t.index),
    [1, 2, 3],
  );
});

test('a process killed (SIGKILL) while appending loses nothing that was appended', async () => {
  const s = SessionStore.create(tmpDir(), { spec: gridSpec(), strategy: { requested: 'x', used: 'x' } });
  const script = `
    const { SessionStore } = require(${JSON.stringify(path.join(ROOT, 'src/core/store.ts'))});
    const s = SessionStore.open(${JSON.stringify(path.dirname(path.dirname(s.dir)))}, ${JSON.stringify(s.id)});
    const pad = 'x'.repeat(20000);
    for (let i = 1; ; i++) { s.appendTrial({ type: 'trial', index: i, key: 'k' + i, config: { pad }, status: 'done', metrics: {}, strategy: 'x', startedAt: '', endedAt: '', durationMs: 0 }); if (i % 50 === 0) process.stdout.write(i + '\\n'); }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let acknowledged = 0;
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      const n = Number(d.toString().trim().split('\n').pop());
      acknowledged = Math.max(acknowledged, n);
      if (acknowledged >= 200) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.on('close', r));
  const { trials } = s.loadTrials();
  assert.ok(trials.length >= acknowledged, `only ${trials.length} of ${acknowledged} acknowledged trials survived`);
  assert.deepEqual(
    trials.map((t) => t.index),
    trials.map((_, i) => i + 1),
    'trials out of order or with gaps',
  );
});

test('resume continues a session: no configuration measured twice, none lost', async () => {
  const root = tmpDir();
  const first = await replaySession(root, 'builtin', 5, 3);
  // Simulate a crash mid-append of the next trial.
  fs.appendFileSync(first.store.trialsFile, '{"type":"trial","index":6');
  const again = SessionStore.open(root, first.store.id);
  const resumed = await replaySession(root, 'builtin', 10, 3, again);
  const keys = resumed.summary.trials.map((t) => t.key);
  assert.equal(keys.length, 10);
  assert.equal(new Set(keys).size, 10);
  assert.deepEqual(
    keys.slice(0, 5),
    first.summary.trials.map((t) => t.key),
  );
  // Same seed, uninterrupted: the resumed session makes exactly the same choices.
  const straight = await replaySession(tmpDir(), 'builtin', 10, 3);
  assert.deepEqual(
    keys,
    straight.summary.trials.map((t) => t.key),
  );
});

test('CLI: a session killed mid-run resumes with --resume to its full budget', async () => {
  const root = tmpDir();
  // A slow replay would finish before we can kill it, so kill after the first trial lands on disk.
  const child = spawn(
    process.execPath,
    [CLI, 'optimize', '--replay', GRID, '--strategy', 'random', '--budget', '400', '--session-dir', root],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (/\[3\/400\]/.test(err)) child.kill('SIGKILL');
  });
  await new Promise((r) => child.on('close', r));
  const [meta] = SessionStore.list(root);
  assert.equal(meta.status, 'running', 'the killed session should still say running');
  const before = SessionStore.open(root, meta.id).readTrials().trials.length;
  assert.ok(before >= 2 && before < 400, `measured ${before} before the kill`);
  const r = spawn(
    process.execPath,
    [CLI, 'optimize', '--resume', meta.id, '--budget', '20', '--session-dir', root, '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  r.stdout.on('data', (d) => {
    out += d;
  });
  const code = await new Promise((res) => r.on('close', res));
  assert.equal(code, 0);
  const summary = JSON.parse(out);
  assert.equal(summary.trials.length, 20);
  assert.equal(new Set(summary.trials.map((t: TrialRecord) => t.key)).size, 20);
  assert.equal(summary.status, 'completed');
});

test('a deleted trial is gone for readers and resumes, its index is not reused, and the file stays append-only', async () => {
  const root = tmpDir();
  const { store } = await replaySession(root, 'grid', 3);
  const before = fs.readFileSync(path.join(store.dir, 'trials.jsonl'), 'utf8');
  store.deleteTrial(2);
  const after = fs.readFileSync(path.join(store.dir, 'trials.jsonl'), 'utf8');
  assert.ok(after.startsWith(before), 'the file was rewritten, not appended to');
  const r = store.readTrials();
  assert.deepEqual(
    r.trials.map((t) => t.index),
    [1, 3],
  );
  assert.equal(r.badLines, 0);
  assert.equal(r.lastIndex, 3);
  // Resuming: the budget counts what is left (2 of 3), the next trial is #4, and the forgotten config may come back.
  const { summary } = await replaySession(root, 'grid', 3, 0, SessionStore.open(root, store.id));
  assert.deepEqual(
    summary.trials.map((t) => t.index),
    [1, 3, 4],
  );
});

test('the deployed trial is kept in session.json: read back by another open, taken off, a malformed one dropped', () => {
  const root = tmpDir();
  const s = SessionStore.create(root, { spec: gridSpec(), strategy: { requested: 'x', used: 'x' } });
  s.updateMeta({ deployed: { trial: 2, file: '/ws/haqa.deploy.json', at: '2026-11-30T14:00:00.000Z' } });
  // What a window reload (or the Trials tree) reads: a fresh open of the file.
  assert.deepEqual(SessionStore.open(root, s.id).meta.deployed, {
    trial: 2,
    file: '/ws/haqa.deploy.json',
    at: '2026-11-30T14:00:00.000Z',
  });
  s.updateMeta({ deployed: undefined });
  assert.equal(SessionStore.open(root, s.id).meta.deployed, undefined);
  const file = path.join(s.dir, 'session.json');
  for (const bad of [{ trial: 0, file: 'x' }, { trial: 1.5, file: 'x' }, { trial: 2 }, 'trial 2']) {
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), deployed: bad }));
    assert.equal(SessionStore.open(root, s.id).meta.deployed, undefined, JSON.stringify(bad));
  }
});

test("the deployed mark survives another process's writes: a run's status update neither drops nor revives it", () => {
  const root = tmpDir();
  const run = SessionStore.create(root, { spec: gridSpec(), strategy: { requested: 'random', used: 'random' } });
  // The deploy review, in another process, marks trial 2 through its own handle on the same session.
  const review = SessionStore.open(root, run.meta.id);
  review.updateMeta({ deployed: { trial: 2, file: '/w/haqa.deploy.json', at: '2026-11-30T17:00:00Z' } });
  run.updateMeta({ status: 'completed' });
  const after = SessionStore.open(root, run.meta.id).meta;
  assert.equal(after.status, 'completed');
  assert.equal(after.deployed?.trial, 2, "the run's write kept the review's mark");
  // The mark taken off elsewhere (another session now serves that file) is not brought back by the run's next write.
  review.updateMeta({ deployed: undefined });
  run.updateMeta({ status: 'stopped' });
  assert.equal(SessionStore.open(root, run.meta.id).meta.deployed, undefined);
  assert.equal(run.meta.deployed, undefined);
});
