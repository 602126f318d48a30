import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isHaqaError } from '../../src/core/errors';
import { LOCK_FILE, acquireSessionLock, lockOwner, processStart } from '../../src/core/lock';
import { CLI, GRID, ROOT, tmpDir } from '../helpers/fixtures';

/** A second process holding the lock; resolves once it says it holds it (an event, not a sleep). */
async function holder(dir: string): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/holdLock.ts'), dir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    if (out.includes('\n')) break;
  }
  assert.match(out, new RegExp(`^held ${child.pid}\\n`));
  return child as ChildProcess & { pid: number };
}

const refused = (f: () => unknown, re: RegExp) =>
  assert.throws(f, (e: unknown) => isHaqaError(e) && re.test(e.message) && e.fix.length > 0);

test('the session lock: one writer; a second in this process or another is refused with the owner; a dead owner is taken over', async () => {
  const dir = tmpDir();
  const mine = acquireSessionLock(dir, 'test');
  const onDisk = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'));
  assert.equal(onDisk.pid, process.pid);
  assert.equal(onDisk.what, 'test');
  refused(() => acquireSessionLock(dir, 'again'), /already in use by this process \(test, since /);
  mine.release();
  mine.release();
  assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'released');

  const child = await holder(dir);
  assert.equal(lockOwner(dir)?.pid, child.pid);
  refused(() => acquireSessionLock(dir, 'second'), new RegExp(`in use by PID ${child.pid} \\(test holder, since`));
  child.kill('SIGKILL');
  await once(child, 'exit');
  // The holder is gone without releasing: its lock is stale and taken over.
  assert.ok(fs.existsSync(path.join(dir, LOCK_FILE)));
  assert.equal(lockOwner(dir), undefined, 'a dead owner is nobody');
  const taken = acquireSessionLock(dir, 'after');
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  taken.release();
});

test('the session lock: a PID that was reused is not the owner — our own PID from an earlier process, or a live PID that started later', () => {
  const dir = tmpDir();
  const file = path.join(dir, LOCK_FILE);
  // Left by an earlier process that had this very PID (a container restart): not held here, so stale.
  fs.writeFileSync(
    file,
    JSON.stringify({ pid: process.pid, host: os.hostname(), what: 'haqa optimize', since: 'then' }),
  );
  assert.equal(lockOwner(dir), undefined);
  acquireSessionLock(dir, 'x').release();
  // A live process (our parent) whose start does not match the lock's: the PID was reused.
  const start = processStart(process.ppid);
  assert.ok(start, 'this machine reports process start times (/proc)');
  const stale = { pid: process.ppid, host: os.hostname(), start: `${start}0`, what: 'haqa optimize', since: 'then' };
  fs.writeFileSync(file, JSON.stringify(stale));
  assert.equal(lockOwner(dir), undefined);
  acquireSessionLock(dir, 'x').release();
  // The same live process with its real start: the owner, refused.
  fs.writeFileSync(file, JSON.stringify({ ...stale, start }));
  refused(() => acquireSessionLock(dir, 'x'), new RegExp(`in use by PID ${process.ppid} \\(haqa optimize`));
});

test('the session lock: an unreadable lock is taken over when old, refused while it may be being written', () => {
  const dir = tmpDir();
  const file = path.join(dir, LOCK_FILE);
  fs.writeFileSync(file, '');
  refused(() => acquireSessionLock(dir, 'x'), /being opened by another process/);
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(file, old, old);
  acquireSessionLock(dir, 'x').release();
  // A lock of another host is never judged by PID here: refused, with the file to delete named.
  fs.writeFileSync(file, JSON.stringify({ pid: 1, host: 'elsewhere', what: 'haqa optimize', since: 'then' }));
  refused(() => acquireSessionLock(dir, 'x'), /in use by PID 1 on elsewhere/);
});

test('two writers on one session: `haqa optimize --resume` refuses while another process holds it, and resumes once it died', async () => {
  const root = tmpDir();
  const first = spawnSync(
    process.execPath,
    [CLI, 'optimize', '--replay', GRID, '--budget', '2', '--session-dir', root, '--json'],
    { encoding: 'utf8' },
  );
  assert.equal(first.status, 0, first.stderr);
  const { sessionId, sessionPath } = JSON.parse(first.stdout);
  const trials = () => fs.readFileSync(path.join(sessionPath, 'trials.jsonl'), 'utf8');
  const before = trials();
  const child = await holder(sessionPath);
  const resume = (budget: string) =>
    spawnSync(process.execPath, [CLI, 'optimize', '--resume', sessionId, '--budget', budget, '--session-dir', root], {
      encoding: 'utf8',
    });
  const r = resume('4');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`session ${sessionId} is in use by PID ${child.pid}`));
  assert.match(r.stderr, /fix: wait for it to finish or stop it/);
  assert.equal(trials(), before, 'the refused resume wrote nothing');
  child.kill('SIGKILL');
  await once(child, 'exit');
  const again = resume('4');
  assert.equal(again.status, 0, again.stderr);
  assert.equal(
    trials()
      .trim()
      .split('\n')
      .filter((l) => JSON.parse(l).type === 'trial').length,
    4,
  );
  assert.ok(!fs.existsSync(path.join(sessionPath, LOCK_FILE)), 'the lock is given back at the end');
});
