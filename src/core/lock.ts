/**
 * One writer per session: `session.lock` in the session folder holds the owner's PID, host, what it is doing and
 * since when. A second writer (another `haqa optimize --resume`, the extension resuming what a terminal runs, a
 * Re-run) is refused with the owner named; a lock whose process is gone (killed, crashed, the machine rebooted) is
 * taken over. The lock file is created with O_EXCL, so two processes can never both create it; a takeover is itself
 * serialized by a second O_EXCL file, so two processes finding the same stale lock cannot both take it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HaqaError, storageError } from './errors';

export const LOCK_FILE = 'session.lock';

export interface LockOwner {
  pid: number;
  host: string;
  /** The owner process's start (boot id and start tick, Linux): a reused PID is not the owner. */
  start?: string;
  /** What the owner is doing, e.g. "haqa optimize", "VS Code: Re-run Trial". */
  what: string;
  since: string;
}

export interface SessionLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

/** Lock files this process holds (a PID match alone may be an earlier process that had the same PID). */
const HELD = new Set<string>();

/** When this machine's process `pid` started (boot id + start tick from /proc), or undefined where unknown. */
export function processStart(pid: number): string | undefined {
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from after the command name, which is in parentheses and may hold spaces.
    const tick = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return tick ? `${boot}:${tick}` : undefined;
  } catch {
    return undefined;
  }
}

/** True when the lock's owner is still the process that took it (same PID, and the same start where known). */
function ownerAlive(o: LockOwner): boolean {
  if (!processAlive(o.pid)) return false;
  if (!o.start) return true;
  const now = processStart(o.pid);
  return now === undefined || now === o.start;
}

/** True when a process with this PID exists on this machine (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof o.pid !== 'number') return undefined;
    return {
      pid: o.pid,
      host: String(o.host ?? ''),
      ...(typeof o.start === 'string' ? { start: o.start } : {}),
      what: String(o.what ?? '?'),
      since: String(o.since ?? '?'),
    };
  } catch {
    return undefined;
  }
}

function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw storageError(e, file);
  }
  try {
    fs.writeSync(fd, `${JSON.stringify(owner)}\n`);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw storageError(e, file);
  }
  fs.closeSync(fd);
  return true;
}

/** An unreadable lock younger than this may be one another process is writing (created, not yet written). */
const YOUNG_MS = 2_000;
const young = (file: string) => {
  try {
    return Date.now() - fs.statSync(file).mtimeMs < YOUNG_MS;
  } catch {
    return false;
  }
};

/** A takeover guard older than this belongs to a process that died mid-takeover. */
const GUARD_STALE_MS = 10_000;

/**
 * Takes the session's lock or throws a HaqaError naming its live owner. A lock left by a process that is gone (same
 * host, PID not running) or an unreadable one (a crash between create and write) is taken over.
 */
export function acquireSessionLock(dir: string, what: string): SessionLock {
  const file = path.join(dir, LOCK_FILE);
  const start = processStart(process.pid);
  const owner: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    ...(start ? { start } : {}),
    what,
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, owner)) return held(file, owner);
    const current = readOwner(file);
    if (current && current.pid === process.pid && current.host === owner.host && liveOwner(file, current))
      throw new HaqaError(
        `session ${path.basename(dir)} is already in use by this process (${current.what}, since ${current.since})`,
        'wait for it to finish, or stop it first',
        'input',
      );
    if (current && liveOwner(file, current))
      throw new HaqaError(
        `session ${path.basename(dir)} is in use by PID ${current.pid}${current.host !== owner.host ? ` on ${current.host}` : ''} ` +
          `(${current.what}, since ${current.since})`,
        current.host !== owner.host
          ? `wait for it to finish; if that process is gone, delete ${file}`
          : current.what.startsWith('VS Code')
            ? 'wait for it to finish, or stop it in that VS Code window (HAQA: Stop Session), then try again'
            : `wait for it to finish or stop it (Ctrl+C in its terminal, or kill ${current.pid}), then try again`,
        'input',
      );
    if (!current && young(file))
      throw new HaqaError(
        `session ${path.basename(dir)} is being opened by another process right now`,
        'try again in a moment',
        'input',
      );
    takeOver(file, current);
  }
  throw new HaqaError(
    `session ${path.basename(dir)}: could not take its lock (another process keeps taking it)`,
    'try again when no other HAQA process works on this session',
    'input',
  );
}

/** Removes a stale lock, once, under a guard so that two processes finding it stale cannot both take it. */
function takeOver(file: string, stale: LockOwner | undefined): void {
  const guard = `${file}.takeover`;
  try {
    const st = fs.statSync(guard);
    if (Date.now() - st.mtimeMs > GUARD_STALE_MS) fs.rmSync(guard, { force: true });
  } catch {
    /* no guard */
  }
  let fd: number;
  try {
    fd = fs.openSync(guard, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return; // another process is taking it over: try again
    throw e;
  }
  fs.closeSync(fd);
  try {
    // Still the same stale lock? (The other process may have finished its takeover and now holds a live one.)
    const now = readOwner(file);
    // An unreadable lock is removed only while it is still old: a young one may be another process's, being written.
    const same =
      (!now && !stale && !young(file)) || (now && stale && now.pid === stale.pid && now.since === stale.since);
    if (same) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

function held(file: string, owner: LockOwner): SessionLock {
  HELD.add(file);
  let released = false;
  return {
    file,
    owner,
    release() {
      if (released) return;
      released = true;
      HELD.delete(file);
      const now = readOwner(file);
      if (now && now.pid === owner.pid && now.since === owner.since) fs.rmSync(file, { force: true });
    },
  };
}

/**
 * Whether the lock's owner still holds it: another host's is taken at its word; this process's only while it holds
 * the file (an earlier process with our PID does not); another process's while it runs and started when the lock says.
 */
function liveOwner(file: string, o: LockOwner): boolean {
  if (o.host !== os.hostname()) return true;
  if (o.pid === process.pid) return HELD.has(file);
  return ownerAlive(o);
}

/** The live owner of a session's lock, if any (for viewers: the tree shows who runs a session). */
export function lockOwner(dir: string): LockOwner | undefined {
  const file = path.join(dir, LOCK_FILE);
  const o = readOwner(file);
  return o && liveOwner(file, o) ? o : undefined;
}
