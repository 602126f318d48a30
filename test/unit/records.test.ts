import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isHaqaError } from '../../src/core/errors';
import { trialFromJson, implausibleStat } from '../../src/core/records';
import { SessionStore } from '../../src/core/store';
import { ReplayToolchain } from '../../src/core/toolchains/replay/replay';
import { CLI, GRID, gridRows, tmpDir } from '../helpers/fixtures';
import { gridSpec } from '../helpers/replay';

const haqa = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

/** A replay session of 3 trials on disk; returns its folder and lines. */
function session() {
  const root = tmpDir();
  const r = haqa('optimize', '--replay', GRID, '--budget', '3', '--session-dir', root, '--json');
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  const file = path.join(s.sessionPath, 'trials.jsonl');
  const lines = fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const write = (ls: unknown[]) => fs.writeFileSync(file, `${ls.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return { root, s, file, lines, write };
}

test('figures no measurement can produce are refused: 1e308 t/s, a negative sd, a mean its own samples contradict', () => {
  const ok = { mean: 100, sd: 2, n: 3, samples: [98, 100, 102] };
  assert.equal(implausibleStat(ok), undefined);
  assert.match(implausibleStat({ ...ok, mean: 1e308, samples: undefined })!, /above/);
  assert.match(implausibleStat({ ...ok, sd: -1 })!, /sd -1/);
  assert.match(implausibleStat({ ...ok, mean: 150 })!, /against its samples/);
  assert.match(implausibleStat({ ...ok, n: 0 })!, /n 0/);
  assert.match(implausibleStat(null)!, /not a figure/);
  const base = { type: 'trial', index: 1, key: 'k', config: { quant: 'Q4_0' }, status: 'done', strategy: 's' };
  const nulled = trialFromJson({ ...base, metrics: null })!;
  assert.deepEqual(nulled.metrics, {});
  assert.equal(nulled.status, 'failed');
  assert.match(nulled.cause!, /damaged record in trials.jsonl: metrics null/);
  const edited = trialFromJson({ ...base, metrics: { decode: { ...ok, mean: 999 } } })!;
  assert.equal(edited.status, 'failed');
  assert.match(edited.cause!, /damaged record in trials.jsonl: decode: mean 999 t\/s against its samples/);
  assert.equal(edited.metrics.decode, undefined);
  for (const bad of [
    { ...base, index: -1 },
    { ...base, config: null },
    { ...base, status: 'great' },
    { ...base, config: { q: {} } },
    'x',
  ])
    assert.equal(trialFromJson(bad), undefined, JSON.stringify(bad));
});

test('a damaged trials.jsonl: `"metrics": null`, a hand-edited best and random bytes are reported with the cause, never as best', () => {
  const { root, s, lines, write, file } = session();
  const best = s.verdict.best as number;
  const edited = lines.map((l) =>
    l.type !== 'trial'
      ? l
      : l.index === best
        ? { ...l, metrics: null }
        : { ...l, metrics: { ...l.metrics, decode: { ...l.metrics.decode, mean: 1e6 } } },
  );
  write(edited);
  const r = haqa('report', s.sessionId, '--session-dir', root, '--json');
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.best, null, 'no trial of a damaged file is best');
  assert.ok(rep.trials.every((t: { status: string }) => t.status === 'failed'));
  assert.match(
    rep.trials.find((t: { index: number }) => t.index !== best).cause,
    /damaged record.*against its samples/,
  );
  // Resume on top of it: no crash; the damaged trials are not measured again (failed), new ones are.
  const resumed = haqa('optimize', '--resume', s.sessionId, '--budget', '5', '--session-dir', root, '--json');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(JSON.parse(resumed.stdout).trials.length, 5);
  // Random bytes: a report refuses with the cause (exit 1), and --json says so in one document.
  fs.writeFileSync(file, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  const junk = haqa('report', s.sessionId, '--session-dir', root, '--json');
  assert.equal(junk.status, 1);
  assert.match(JSON.parse(junk.stdout).error, /holds no readable trial \(\d+ damaged line/);
});

test('replay rows that cannot be measurements are left out and said; a file of only such rows is refused', () => {
  const dir = tmpDir();
  const rows = gridRows(40);
  const absurd = rows.map((r, i) =>
    i === 0 ? { ...r, avg_ts: 1e308, samples_ts: undefined } : i === 1 ? { ...r, stddev_ts: -5 } : r,
  );
  const f = path.join(dir, 'absurd.jsonl');
  fs.writeFileSync(f, absurd.map((r) => JSON.stringify(r)).join('\n'));
  const tc = new ReplayToolchain([f]);
  assert.equal(tc.rejected.length, 2);
  assert.equal(tc.info().rejectedRows, 2);
  const r = haqa('optimize', '--replay', f, '--budget', '40', '--session-dir', dir, '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /replay: 2 row\(s\) left out, not measurements: absurd\.jsonl: \w+: mean 1e\+308 t\/s/);
  const best = JSON.parse(r.stdout).best;
  assert.ok(best.metrics.decode.mean < 1e5);
  const none = path.join(dir, 'none.jsonl');
  fs.writeFileSync(none, rows.map((r) => JSON.stringify({ ...r, model_type: undefined })).join('\n'));
  assert.throws(
    () => new ReplayToolchain([none]),
    (e: unknown) => isHaqaError(e) && /holds no llama-bench rows/.test(e.message),
  );
});

test('a full disk and a folder that is a file: the cause and the fix, no stray temp file', () => {
  const root = tmpDir();
  const store = SessionStore.create(root, { spec: gridSpec(), strategy: { requested: 'grid', used: 'grid' } });
  const rec = {
    type: 'trial' as const,
    index: 1,
    key: 'k',
    config: { quant: 'Q4_0' },
    status: 'done' as const,
    metrics: {},
    strategy: 'grid',
    startedAt: '',
    endedAt: '',
    durationMs: 0,
  };
  store.appendTrial(rec);
  // /dev/full answers every write with ENOSPC: the kernel's own full disk. session.json is written through a temp
  // file beside it (then renamed): that temp file is where the disk is full.
  fs.symlinkSync('/dev/full', path.join(store.dir, `session.json.tmp-${process.pid}`));
  assert.throws(
    () => store.updateMeta({ status: 'completed' }),
    (e: unknown) =>
      isHaqaError(e) && /no space left on the disk holding .* \(ENOSPC\)/.test(e.message) && /free space/.test(e.fix),
  );
  assert.deepEqual(
    fs.readdirSync(store.dir).filter((f) => f.includes('.tmp-')),
    [],
    'no stray session.json.tmp-PID',
  );
  fs.rmSync(store.trialsFile);
  fs.symlinkSync('/dev/full', store.trialsFile);
  assert.throws(
    () => store.appendTrial({ ...rec, index: 2 }),
    (e: unknown) => isHaqaError(e) && /ENOSPC/.test(e.message),
  );
  const file = path.join(tmpDir(), 'a-file');
  fs.writeFileSync(file, 'x');
  assert.throws(
    () => SessionStore.create(file, { spec: gridSpec(), strategy: { requested: 'grid', used: 'grid' } }),
    (e: unknown) => isHaqaError(e) && /a file stands where a folder is needed \(ENOTDIR\)/.test(e.message),
  );
});
