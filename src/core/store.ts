import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { HaqaError, haltingError, storageError } from './errors';
import { redact } from './secrets';
import { isRecord, parseSessionSpec, specForDisk, type SessionSpec } from './spec';
import { poolConfirmations, type ConfirmEntry } from './confirm';
import { confirmFromJson, isFitFlag, trialFromJson } from './records';
import type { HardwareProfile, ModelInfo, TrialRecord } from './types';

export type SessionStatusOnDisk = 'running' | 'completed' | 'stopped' | 'failed';

export interface SessionMeta {
  id: string;
  createdAt: string;
  updatedAt: string;
  status: SessionStatusOnDisk;
  stopReason?: string;
  /** What the session is (everything needed to resume it); see spec.ts. */
  spec: SessionSpec;
  strategy: { requested: string; used: string; note?: string };
  hardware?: HardwareProfile;
  model?: ModelInfo;
  /** The toolchain's facts (version, backend, tools), as it reported them. */
  toolchain?: Record<string, unknown>;
  /** sha256 of the model file when the session was created: a resume refuses a changed model. */
  modelSha256?: string;
  space?: string;
  /** The trial that measures llama.cpp's own placement (--fit), and its flags: what the verdict is compared with. */
  reference?: { index: number; flags: string[] };
  /** The person chose "Accept all remaining" in review: a resume runs without asking again. */
  acceptAll?: boolean;
  /** The trial whose deploy files were last applied (Apply in the extension), the deploy config written, and when. */
  deployed?: DeployedMark;
}

export interface DeployedMark {
  trial: number;
  file: string;
  at: string;
}

/**
 * The sessions folder keeps itself out of git (as .pytest_cache and .mypy_cache do): a `.gitignore` of `*` in it, once,
 * where it is HAQA's own `.haqa/` folder, so Source Control does not fill with trial logs and nobody has to answer a
 * prompt. Deleting that file lets the sessions be committed; HAQA does not write it again while the folder has
 * sessions. A folder given by --session-dir keeps whatever it has.
 */
export function keepOutOfGit(root: string): void {
  if (path.basename(root) !== '.haqa') return;
  const gi = path.join(root, '.gitignore');
  if (fs.existsSync(gi) || fs.readdirSync(path.join(root, 'sessions')).length > 1) return;
  onDisk(gi, () => {
    try {
      fs.writeFileSync(gi, "# HAQA's sessions and trial logs: kept out of git. Delete this file to commit them.\n*\n", {
        flag: 'wx',
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another session wrote it first
    }
  });
}

const STATUSES: readonly SessionStatusOnDisk[] = ['running', 'completed', 'stopped', 'failed'];

/**
 * Validates a session.json. Older files carry an untyped `options` object instead of `spec`; they load the same way.
 * Hardware and model facts are informational: a malformed one is dropped, not fatal.
 */
export function parseSessionMeta(raw: unknown, where: string): SessionMeta {
  const bad = (why: string) =>
    new HaqaError(
      `${where} is not a valid HAQA session: ${why}`,
      'restore it from a backup, or start a new session',
      'input',
    );
  if (!isRecord(raw)) throw bad('not a JSON object');
  const m = raw;
  if (typeof m.id !== 'string' || !m.id) throw bad('no session id');
  const status = STATUSES.find((s) => s === m.status);
  if (!status) throw bad(`unknown status ${JSON.stringify(m.status)}`);
  const st = m.strategy;
  if (!isRecord(st) || typeof st.requested !== 'string' || typeof st.used !== 'string') throw bad('no strategy record');
  const spec = parseSessionSpec(m.spec ?? m.options, where);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    id: m.id,
    createdAt: str(m.createdAt) ?? '',
    updatedAt: str(m.updatedAt) ?? '',
    status,
    stopReason: str(m.stopReason),
    spec,
    strategy: { requested: st.requested, used: st.used, note: str(st.note) },
    hardware: hardwareFromJson(m.hardware),
    model: modelFromJson(m.model),
    toolchain: isRecord(m.toolchain) ? { ...m.toolchain } : undefined,
    space: str(m.space),
    modelSha256: str(m.modelSha256),
    reference: referenceFromJson(m.reference),
    ...(m.acceptAll === true ? { acceptAll: true } : {}),
    ...deployedFromJson(m.deployed),
  };
}

function deployedFromJson(v: unknown): { deployed?: DeployedMark } {
  if (!isRecord(v) || !Number.isInteger(v.trial) || (v.trial as number) < 1 || typeof v.file !== 'string') return {};
  return { deployed: { trial: v.trial as number, file: v.file, at: typeof v.at === 'string' ? v.at : '' } };
}

function referenceFromJson(v: unknown): SessionMeta['reference'] {
  if (!isRecord(v) || !Number.isInteger(v.index) || (v.index as number) < 1) return undefined;
  if (!Array.isArray(v.flags) || !v.flags.every(isFitFlag)) return undefined;
  return { index: v.index as number, flags: [...(v.flags as string[])] };
}

const numOr = (v: unknown, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const strOr = (v: unknown, d = '') => (typeof v === 'string' ? v : d);

function hardwareFromJson(v: unknown): HardwareProfile | undefined {
  if (!isRecord(v) || !isRecord(v.cpu)) return undefined;
  const c = v.cpu;
  return {
    cpu: {
      model: strOr(c.model, '?'),
      cores: numOr(c.cores),
      threads: numOr(c.threads),
      flags: Array.isArray(c.flags) ? c.flags.filter((f) => typeof f === 'string') : [],
    },
    memoryBytes: numOr(v.memoryBytes),
    gpus: (Array.isArray(v.gpus) ? v.gpus : []).filter(isRecord).map((g) => ({
      name: strOr(g.name, '?'),
      vramBytes: numOr(g.vramBytes),
      computeCapability: strOr(g.computeCapability),
      driver: strOr(g.driver),
      ...(typeof g.device === 'string' ? { device: g.device } : {}),
      ...(typeof g.freeBytes === 'number' ? { freeBytes: g.freeBytes } : {}),
      ...(typeof g.backend === 'string' ? { backend: g.backend } : {}),
    })),
    os: strOr(v.os),
    arch: strOr(v.arch),
  };
}

function modelFromJson(v: unknown): ModelInfo | undefined {
  if (!isRecord(v) || typeof v.name !== 'string') return undefined;
  return {
    path: strOr(v.path),
    name: v.name,
    arch: strOr(v.arch),
    parameterCount: numOr(v.parameterCount),
    layers: numOr(v.layers),
    embeddingLength: numOr(v.embeddingLength),
    feedForwardLength: numOr(v.feedForwardLength),
    headCount: numOr(v.headCount),
    headCountKv: numOr(v.headCountKv),
    vocabSize: numOr(v.vocabSize),
    contextLength: numOr(v.contextLength),
    ...(typeof v.expertCount === 'number' && v.expertCount > 0
      ? { expertCount: v.expertCount, expertUsedCount: numOr(v.expertUsedCount) }
      : {}),
    fileType: strOr(v.fileType),
    sizeBytes: numOr(v.sizeBytes),
    rowSizes: Array.isArray(v.rowSizes) ? v.rowSizes.filter((x) => typeof x === 'number') : [],
  };
}

export interface LoadedTrials {
  trials: TrialRecord[];
  /** Bytes of a torn last line that was set aside. */
  tornBytes: number;
  /** Lines in the middle that could not be parsed (kept in the file, skipped). */
  badLines: number;
  /** The highest trial index ever written, deleted trials included (the next trial is lastIndex + 1). */
  lastIndex: number;
  /** Confirmation runs and discarded rounds, in file order (already pooled into `trials`). */
  confirmations: ConfirmEntry[];
}

/** A file operation on the session folder; its failure becomes the user's problem with the cause and fix. */
function onDisk<T>(file: string, op: () => T): T {
  try {
    return op();
  } catch (e) {
    throw storageError(e, file);
  }
}

/** Writes all of buf at the file's end (a short write is continued; no progress is ENOSPC). */
function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off);
    if (n <= 0) throw Object.assign(new Error('no space left on device (short write)'), { code: 'ENOSPC' });
    off += n;
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, Buffer.from(redact(text)));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw storageError(e, file);
  }
}

export function newSessionId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const date = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}`;
  const time = `${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${date}-${time}-${randomBytes(2).toString('hex')}`;
}

/**
 * One session on disk: `<root>/sessions/<id>/{session.json, trials.jsonl, logs/}`. Trials are appended one JSON
 * line each and fsync'd; a torn last line (a crash mid-append) is set aside on load, so nothing measured is lost
 * and nothing half-written is read.
 */
export class SessionStore {
  private constructor(
    readonly dir: string,
    public meta: SessionMeta,
  ) {}

  get id(): string {
    return this.meta.id;
  }
  get trialsFile(): string {
    return path.join(this.dir, 'trials.jsonl');
  }
  /**
   * The folder of the tools' logs, made when missing (a resumed or copied session may lack it). One that cannot be made
   * stops the session (haltingError), since every trial would fail on it — not a failed configuration.
   */
  get logsDir(): string {
    const dir = path.join(this.dir, 'logs');
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw haltingError(storageError(e, dir));
    }
    return dir;
  }
  /** Renames the session's log files whose names start with `from` to start with `to` (a re-run that became a trial). */
  renameLogs(from: string, to: string): void {
    const dir = this.logsDir;
    for (const f of fs.readdirSync(dir))
      if (f.startsWith(from))
        onDisk(dir, () => fs.renameSync(path.join(dir, f), path.join(dir, to + f.slice(from.length))));
  }

  /**
   * The log files of trial `index`: its own run's, and those of its confirmation runs and re-runs pooled into it.
   */
  logsOf(index: number): string[] {
    const dir = path.join(this.dir, 'logs');
    if (!fs.existsSync(dir)) return [];
    const n = String(index).padStart(3, '0');
    const mine = new RegExp(`^(trial-${n}|(confirm|rerun)-\\d+-${n}(-anchor)?)-`);
    return fs
      .readdirSync(dir)
      .filter((f) => mine.test(f))
      .sort()
      .map((f) => path.join(dir, f));
  }

  /** The agent's journal: one JSON line per LLM call, rejection, explanation, fallback (never prompt text or keys). */
  get journalFile(): string {
    return path.join(this.dir, 'agent.jsonl');
  }

  static create(root: string, meta: Omit<SessionMeta, 'id' | 'createdAt' | 'updatedAt' | 'status'>): SessionStore {
    const spec = specForDisk(meta.spec);
    const id = newSessionId();
    const dir = path.join(path.resolve(root), 'sessions', id);
    onDisk(dir, () => fs.mkdirSync(path.join(dir, 'logs'), { recursive: true }));
    keepOutOfGit(path.resolve(root));
    const now = new Date().toISOString();
    const store = new SessionStore(dir, {
      id,
      createdAt: now,
      updatedAt: now,
      status: 'running',
      ...meta,
      spec,
    });
    writeAtomic(path.join(dir, 'session.json'), JSON.stringify(store.meta, null, 2));
    onDisk(store.trialsFile, () => fs.closeSync(fs.openSync(store.trialsFile, 'a')));
    return store;
  }

  /** Opens by id (under `root`) or by a path to the session folder or its session.json. */
  static open(root: string, idOrPath: string): SessionStore {
    const candidates = [idOrPath, path.join(idOrPath, '..'), path.join(path.resolve(root), 'sessions', idOrPath)];
    for (const c of candidates) {
      const dir = path.resolve(c);
      const mf = path.join(dir, 'session.json');
      if (!fs.existsSync(mf)) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(fs.readFileSync(mf, 'utf8'));
      } catch (e) {
        throw new HaqaError(
          `${mf} is not valid JSON (${(e as Error).message})`,
          'restore it from a backup, or start a new session',
          'input',
        );
      }
      const meta = parseSessionMeta(raw, mf);
      try {
        fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
      } catch {
        /* a viewer of a read-only session needs no logs folder; a writer fails on its first write, with the cause */
      }
      return new SessionStore(dir, meta);
    }
    throw new HaqaError(
      `no session "${idOrPath}" under ${path.resolve(root, 'sessions')}`,
      {
        cli: 'give a session id from `haqa report` / the sessions folder, or the session folder path',
        vscode: 'pick a session in the HAQA view (its sessions folder holds one folder per session)',
      },
      'input',
    );
  }

  static list(root: string): SessionMeta[] {
    const dir = path.join(path.resolve(root), 'sessions');
    if (!fs.existsSync(dir)) return [];
    const out: SessionMeta[] = [];
    for (const d of fs.readdirSync(dir).sort()) {
      try {
        const mf = path.join(dir, d, 'session.json');
        out.push(parseSessionMeta(JSON.parse(fs.readFileSync(mf, 'utf8')), mf));
      } catch {
        /* not a session */
      }
    }
    return out;
  }

  updateMeta(patch: Partial<SessionMeta>): void {
    // The deployed mark is the deploy review's, and another process may hold this session open (a CLI run, another
    // window): unless this write sets it, the file's mark stands, so a run's next write neither drops nor revives it.
    const deployed = 'deployed' in patch ? patch.deployed : this.deployedOnDisk();
    this.meta = { ...this.meta, ...patch, deployed, updatedAt: new Date().toISOString() };
    if (deployed === undefined) delete this.meta.deployed;
    writeAtomic(path.join(this.dir, 'session.json'), JSON.stringify(this.meta, null, 2));
  }

  private deployedOnDisk(): DeployedMark | undefined {
    try {
      const m: unknown = JSON.parse(fs.readFileSync(path.join(this.dir, 'session.json'), 'utf8'));
      return isRecord(m) ? deployedFromJson(m.deployed).deployed : undefined;
    } catch {
      return this.meta.deployed;
    }
  }

  /**
   * Reads every complete trial line without touching the file (for viewers: a report, the tree view, while a
   * session may be appending). A torn tail (no final newline, or an unparsable last line) is not returned;
   * `tornBytes` says how long it is.
   */
  readTrials(): LoadedTrials {
    return this.parse().loaded;
  }

  /**
   * Reads the trials of a session about to be continued, and repairs a torn tail: it is moved to
   * `trials.jsonl.torn` and cut from the file, so the next append starts on a clean line.
   */
  loadTrials(): LoadedTrials {
    const { loaded, text, keep } = this.parse();
    if (loaded.tornBytes) {
      fs.appendFileSync(`${this.trialsFile}.torn`, `${text.slice(keep)}\n`);
      fs.truncateSync(this.trialsFile, Buffer.byteLength(text.slice(0, keep)));
    }
    return loaded;
  }

  /** Parses trials.jsonl; `keep` is the character offset where a torn tail starts (text.length when none). */
  private parse(): { loaded: LoadedTrials; text: string; keep: number } {
    let text = '';
    try {
      text = fs.readFileSync(this.trialsFile, 'utf8');
    } catch {
      return { loaded: { trials: [], tornBytes: 0, badLines: 0, lastIndex: 0, confirmations: [] }, text, keep: 0 };
    }
    let keep = text.lastIndexOf('\n') + 1;
    const lines = text
      .slice(0, keep)
      .split('\n')
      .filter((l) => l.length > 0);
    // A last complete line that does not parse is torn too (e.g. a newline written inside a partial flush).
    if (lines.length) {
      try {
        JSON.parse(lines[lines.length - 1]);
      } catch {
        keep = text.lastIndexOf('\n', keep - 2) + 1;
        lines.pop();
      }
    }
    const all: TrialRecord[] = [];
    const deleted = new Set<number>();
    const confirms: ConfirmEntry[] = [];
    let badLines = 0;
    for (const l of lines) {
      let r: unknown;
      try {
        r = JSON.parse(l);
      } catch {
        badLines++;
        continue;
      }
      // Every line is checked for what it claims to be (records.ts): a damaged one is skipped, never trusted.
      const trial = trialFromJson(r);
      const confirm = trial ? undefined : confirmFromJson(r);
      if (trial) all.push(trial);
      else if (confirm) confirms.push(confirm);
      else if (isRecord(r) && r.type === 'deleted' && typeof r.index === 'number') deleted.add(r.index);
      else badLines++;
    }
    // Confirmation runs (confirm.ts) are pooled into their trials' samples: every reader sees the pooled figures.
    const trials = poolConfirmations(deleted.size ? all.filter((t) => !deleted.has(t.index)) : all, confirms);
    const lastIndex = all.reduce((m, t) => Math.max(m, Number(t.index) || 0), 0);
    const tornBytes = Buffer.byteLength(text.slice(keep));
    return { loaded: { trials, tornBytes, badLines, lastIndex, confirmations: confirms }, text, keep };
  }

  /** Appends one trial and fsyncs before returning: once this resolves the trial survives a crash. */
  appendTrial(rec: TrialRecord): void {
    this.appendLine(rec);
  }

  /** One JSON line appended to trials.jsonl and fsync'd before returning. */
  private appendLine(rec: object): void {
    const fd = onDisk(this.trialsFile, () => fs.openSync(this.trialsFile, 'a'));
    const before = fs.fstatSync(fd).size;
    try {
      writeAll(fd, Buffer.from(`${redact(JSON.stringify(rec))}\n`));
      fs.fsyncSync(fd);
    } catch (e) {
      // A line that did not reach the disk whole is cut off again: the file never ends in a torn line the run
      // believes committed.
      try {
        fs.ftruncateSync(fd, before);
      } catch {
        /* the reader sets a torn tail aside */
      }
      throw storageError(e, this.trialsFile);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Appends one confirmation run or discarded round (confirm.ts), fsync'd like a trial. */
  appendConfirmation(rec: ConfirmEntry): void {
    this.appendLine(rec);
  }

  /** The session's confirmation runs and discarded rounds. */
  readConfirmations(): ConfirmEntry[] {
    return this.parse().loaded.confirmations;
  }

  /**
   * Forgets a measured trial (the user judged it wrong, e.g. disturbed by other load): an appended `deleted` record, so
   * the file stays append-only. A deleted trial is gone for viewers, strategies and resumes; its index is not reused.
   */
  deleteTrial(index: number): void {
    this.appendLine({ type: 'deleted', index, at: new Date().toISOString() });
  }

  /** Appends one journal record (see journalFile). */
  appendJournal(rec: Record<string, unknown>): void {
    const line = `${redact(JSON.stringify({ at: new Date().toISOString(), ...rec }))}\n`;
    onDisk(this.journalFile, () => fs.appendFileSync(this.journalFile, line));
  }

  /** Every complete journal record (unparsable lines skipped). */
  readJournal(): Record<string, unknown>[] {
    let text: string;
    try {
      text = fs.readFileSync(this.journalFile, 'utf8');
    } catch {
      return [];
    }
    const out: Record<string, unknown>[] = [];
    for (const l of text.split('\n')) {
      if (!l) continue;
      try {
        out.push(JSON.parse(l));
      } catch {
        /* a torn line */
      }
    }
    return out;
  }
}
