import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, GRID, tmpDir } from '../helpers/fixtures';
import { acquireSessionLock } from '../../src/core/lock';

const haqa = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

test('bad usage exits 2 with a hint', () => {
  for (const args of [
    [],
    ['frobnicate'],
    ['optimize', '--no-such-flag'],
    ['optimize', '--budget', 'many', '--replay', GRID],
    ['optimize', '--replay', GRID, '--strategy', 'magic'],
    ['optimize', '--replay', GRID, '--objective', 'vibes'],
    ['optimize'],
  ]) {
    const r = haqa(...args);
    assert.equal(r.status, 2, `${args.join(' ')} → ${r.status}: ${r.stderr}`);
    assert.match(r.stdout + r.stderr, /usage|fix:/);
  }
});

test('--json always prints one JSON document: on failure haqa.error.v1 with the error, the fix and the exit code', () => {
  const dir = tmpDir();
  for (const [args, code, re] of [
    [['optimize', '--model', path.join(dir, 'nope.gguf'), '--session-dir', dir, '--json'], 1, /not found/],
    [['--json'], 2, /no command given/],
    [['optimize', '--no-such-flag', '--json'], 2, /no-such-flag/],
    [['optimize', '--budget', 'many', '--replay', GRID, '--json'], 2, /budget/],
    [['report', '--session-dir', dir, '--json'], 1, /./],
  ] as const) {
    const r = haqa(...args);
    assert.equal(r.status, code, `${args.join(' ')} → ${r.status}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.schema, 'haqa.error.v1');
    assert.match(doc.error, re);
    assert.ok(doc.fix.length > 0);
    assert.equal(doc.exitCode, code);
    assert.match(r.stderr, /fix: /, 'the text goes to stderr as well');
  }
  const help = haqa('--help', '--json');
  assert.equal(help.status, 0);
  const doc = JSON.parse(help.stdout);
  assert.equal(doc.schema, 'haqa.help.v1');
  assert.match(doc.usage, /haqa optimize/);
});

test('a missing or corrupt model exits 1 naming the cause and the fix, without a stack trace', () => {
  const dir = tmpDir();
  const bad = path.join(dir, 'bad.gguf');
  fs.writeFileSync(bad, 'GGUF but then garbage........................................');
  for (const [file, re] of [
    [path.join(dir, 'nope.gguf'), /not found/],
    [bad, /not a usable GGUF/],
  ] as const) {
    const r = haqa('optimize', '--model', file, '--session-dir', dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /fix: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('optimize --replay --json prints the documented summary', () => {
  const dir = tmpDir();
  const r = haqa(
    'optimize',
    '--replay',
    GRID,
    '--strategy',
    'builtin',
    '--budget',
    '8',
    '--session-dir',
    dir,
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.schema, 'haqa.optimize.v1');
  assert.equal(s.strategy.used, 'builtin');
  // The machine the trials ran on: a replay's is the recording's (its CPU, as llama-bench wrote it).
  assert.match(s.hardware.cpu.model, /AMD EPYC/);
  assert.deepEqual(s.hardware.gpus, []);
  assert.equal(s.trials.length, 8);
  assert.ok(s.best.metrics.decode.mean > 0);
  assert.ok(s.pareto.includes(s.best.index));
  assert.ok(fs.existsSync(path.join(s.sessionPath, 'session.json')));
  assert.equal(fs.readFileSync(path.join(s.sessionPath, 'trials.jsonl'), 'utf8').trim().split('\n').length, 8);
  const rep = haqa('report', s.sessionId, '--session-dir', dir);
  assert.equal(rep.status, 0);
  assert.match(rep.stdout, /★/);
});

test('--replay takes several files, each a llama-bench recording', () => {
  const dir = tmpDir();
  const half = path.join(dir, 'part2.jsonl');
  const lines = fs.readFileSync(GRID, 'utf8').trim().split('\n');
  const first = path.join(dir, 'part1.jsonl');
  fs.writeFileSync(first, `${lines.slice(0, 480).join('\n')}\n`);
  fs.writeFileSync(half, `${lines.slice(480).join('\n')}\n`);
  const r = haqa(
    'optimize',
    '--replay',
    first,
    half,
    '--strategy',
    'grid',
    '--budget',
    '1000',
    '--stop-early',
    'off',
    '--session-dir',
    dir,
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.toolchain.files.length, 2);
  assert.equal(s.trials.length, 480);
  assert.equal(haqa('optimize', 'stray', '--session-dir', dir).status, 2);
});

test('a size constraint makes big types infeasible and never best', () => {
  const dir = tmpDir();
  const r = haqa(
    'optimize',
    '--replay',
    GRID,
    '--strategy',
    'grid',
    '--budget',
    '480',
    '--max-size-mb',
    '30',
    '--session-dir',
    dir,
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  const inf = s.trials.filter((t: { status: string }) => t.status === 'infeasible');
  assert.ok(inf.length > 0);
  assert.ok(s.best.metrics.fileSizeBytes <= 30 * 2 ** 20);
});

test('hardware and inspect print facts', () => {
  const r = haqa('hardware', '--json');
  assert.equal(r.status, 0);
  assert.ok(JSON.parse(r.stdout).cpu.threads >= 1);
});

test('report says whether a session is running now (and who runs it), interrupted, or ended', () => {
  const dir = tmpDir();
  const first = haqa('optimize', '--replay', GRID, '--budget', '2', '--session-dir', dir, '--json');
  assert.equal(first.status, 0, first.stderr);
  const { sessionId, sessionPath } = JSON.parse(first.stdout);
  const report = () => {
    const r = haqa('report', sessionId, '--session-dir', dir, '--json');
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { state: string; owner: { pid: number } | null };
  };
  assert.equal(report().state, 'completed');
  // A process that died mid-run leaves session.json saying `running` and no live lock.
  const meta = path.join(sessionPath, 'session.json');
  fs.writeFileSync(
    meta,
    JSON.stringify({ ...JSON.parse(fs.readFileSync(meta, 'utf8')), status: 'running', stopReason: undefined }),
  );
  assert.deepEqual(report(), { ...report(), state: 'interrupted', owner: null });
  const text = haqa('report', sessionId, '--session-dir', dir);
  assert.match(text.stdout, new RegExp(`session ${sessionId}: interrupted \\(resume it with --resume\\)`));
  // This process holds the lock: the session is running, and the report names its PID.
  const lock = acquireSessionLock(sessionPath, 'a test');
  try {
    const r = report();
    assert.equal(r.state, 'running');
    assert.equal(r.owner?.pid, process.pid);
    assert.match(haqa('report', sessionId, '--session-dir', dir).stdout, /: running \(running now \(PID \d+: a test/);
  } finally {
    lock.release();
  }
});

test('a replay of rows recorded at a depth is judged at that depth; --context / --depth do not apply to a replay', () => {
  const dir = tmpDir();
  const deep = path.join(dir, 'deep.jsonl');
  // The recorded grid as if measured with -d 0,512: each row twice, the copy at depth 512 and half as fast.
  const rows = fs
    .readFileSync(GRID, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const half = (r: Record<string, unknown>) => ({
    ...r,
    n_depth: 512,
    avg_ts: (r.avg_ts as number) / 2,
    samples_ts: (r.samples_ts as number[] | undefined)?.map((x) => x / 2),
  });
  fs.writeFileSync(
    deep,
    rows.flatMap((r) => [JSON.stringify({ ...r, n_depth: 0 }), JSON.stringify(half(r))]).join('\n'),
  );
  const r = haqa('optimize', '--replay', deep, '--budget', '2', '--session-dir', dir, '--json');
  assert.equal(r.status, 0, r.stderr);
  const t = JSON.parse(r.stdout).trials[0];
  assert.equal(t.status, 'done');
  assert.ok(Math.abs(t.metrics.decode.mean * 2 - t.metrics.atDepth0.decode.mean) < 1e-6, JSON.stringify(t.metrics));
  const bad = haqa('optimize', '--replay', deep, '--context', '4096', '--session-dir', dir);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--context and --depth do not apply to --replay/);
});
