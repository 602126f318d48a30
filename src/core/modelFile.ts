/**
 * What a file offered as a model is, from its first bytes, before anything parses it: a GGUF (its magic bytes), a Git
 * LFS pointer (the small text file `git clone` leaves where a model was not downloaded), or something else. Cheap
 * (one read of at most 1 KiB), so a picker can check every candidate it lists; inspectModel (model.ts) checks the same
 * way before it parses the header, so the CLI and the extension refuse a pointer with the same reason and fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HaqaError } from './errors';

/** The magic bytes every GGUF file starts with. */
export const GGUF_MAGIC = Buffer.from('GGUF');
/** The smallest GGUF: magic, version, tensor count and metadata count. */
export const GGUF_MIN_BYTES = 24;
/** Git LFS treats a blob below this size that starts with its version line as a pointer (git-lfs's blobSizeCutoff). */
const LFS_POINTER_MAX_BYTES = 1024;
/** The version lines of the pointer format (git-lfs docs/spec.md; "hawser" is the pre-release name, still accepted). */
const LFS_VERSIONS = ['version https://git-lfs.github.com/spec/v1', 'version https://hawser.github.com/spec/v1'];

export type ModelFileKind = 'gguf' | 'lfs-pointer' | 'not-gguf' | 'missing' | 'not-a-file' | 'unreadable';

export interface ModelFileCheck {
  kind: ModelFileKind;
  /** The file, absolute. */
  file: string;
  /** Its size on disk, when it could be read. */
  sizeBytes?: number;
  /** For an LFS pointer: the size of the file it stands for (its `size` line). */
  lfsSizeBytes?: number;
  /** Why it is not a model (absent for a GGUF), one clause: "it is a Git LFS pointer (135 bytes) …". */
  reason?: string;
  /** What to do about it (absent for a GGUF). */
  fix?: string;
  /** A few words for a list of candidates (absent for a GGUF): "LFS pointer — run git lfs pull". */
  short?: string;
}

/**
 * The pointer's fields when `head` (a file's first bytes) is a Git LFS pointer: its `oid` and the `size` of the
 * real file; undefined otherwise.
 */
export function parseLfsPointer(head: Buffer): { oid?: string; sizeBytes?: number } | undefined {
  if (head.length >= LFS_POINTER_MAX_BYTES) return undefined;
  const text = head.toString('utf8');
  const first = text.split('\n', 1)[0].replace(/\r$/, '');
  if (!LFS_VERSIONS.includes(first)) return undefined;
  const oid = /^oid (\S+)$/m.exec(text)?.[1];
  const size = /^size (\d+)\r?$/m.exec(text)?.[1];
  return { ...(oid ? { oid } : {}), ...(size ? { sizeBytes: Number(size) } : {}) };
}

/** The folder holding `.git` (a folder, or a file in a worktree or submodule) above `file`, if any. */
export function gitRoot(file: string): string | undefined {
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    if (fs.existsSync(path.join(dir, '.git'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * The command that downloads the model an LFS pointer stands for, naming the file: `git lfs pull --include "<path in
 * the repository>"`, run in the repository (`cd <root> && …`); plain `git lfs pull --include` with the file's name when
 * no repository is found above it.
 */
export function lfsPullCommand(file: string): string {
  const abs = path.resolve(file);
  const root = gitRoot(abs);
  const include = root ? path.relative(root, abs).split(path.sep).join('/') : path.basename(abs);
  return root
    ? `cd ${quote(root)} && git lfs pull --include ${quote(include)}`
    : `git lfs pull --include ${quote(include)}`;
}

const quote = (s: string): string => (/^[\w./@%+=:,-]+$/.test(s) ? s : `"${s.replace(/(["\\$`])/g, '\\$1')}"`);

const MiB = 2 ** 20;
const size = (n: number): string =>
  n < 1024
    ? `${n} bytes`
    : n < MiB
      ? `${(n / 1024).toFixed(1)} KiB`
      : n < 1024 * MiB
        ? `${(n / MiB).toFixed(1)} MiB`
        : `${(n / 1024 / MiB).toFixed(1)} GiB`;

/** What `file` is, from its first bytes: a GGUF, or why it is not one and what to do. Never throws. */
export function checkModelFile(file: string): ModelFileCheck {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    return {
      kind: 'missing',
      file: abs,
      reason: 'the file does not exist',
      fix: 'check the path, or pick another file',
      short: 'missing',
    };
  }
  if (!st.isFile())
    return {
      kind: 'not-a-file',
      file: abs,
      reason: 'it is a folder, not a file',
      fix: 'pick a .gguf file',
      short: 'not a file',
    };
  const head = Buffer.alloc(Math.min(st.size, LFS_POINTER_MAX_BYTES));
  try {
    const fd = fs.openSync(abs, 'r');
    try {
      fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    return {
      kind: 'unreadable',
      file: abs,
      sizeBytes: st.size,
      reason: `it cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      fix: 'check the file permissions',
      short: 'unreadable',
    };
  }
  if (st.size >= GGUF_MIN_BYTES && head.subarray(0, 4).equals(GGUF_MAGIC))
    return { kind: 'gguf', file: abs, sizeBytes: st.size };
  const lfs = st.size < LFS_POINTER_MAX_BYTES ? parseLfsPointer(head) : undefined;
  if (lfs) {
    const real = lfs.sizeBytes !== undefined ? ` for a ${size(lfs.sizeBytes)} file` : '';
    return {
      kind: 'lfs-pointer',
      file: abs,
      sizeBytes: st.size,
      ...(lfs.sizeBytes !== undefined ? { lfsSizeBytes: lfs.sizeBytes } : {}),
      reason: `it is a Git LFS pointer (${size(st.size)} of text${real}): the model itself was never downloaded`,
      fix: `download it with Git LFS: ${lfsPullCommand(abs)}`,
      short: 'LFS pointer — run git lfs pull',
    };
  }
  return {
    kind: 'not-gguf',
    file: abs,
    sizeBytes: st.size,
    reason:
      st.size === 0
        ? 'the file is empty'
        : st.size < GGUF_MIN_BYTES && head.subarray(0, Math.min(4, st.size)).equals(GGUF_MAGIC.subarray(0, st.size))
          ? `it is cut short (${st.size} bytes)`
          : 'the file does not start with the GGUF magic bytes',
    fix: 'pick a complete .gguf file (llama.cpp format); re-download or re-convert it if it was cut short',
    short: st.size === 0 ? 'empty file' : 'not a GGUF file',
  };
}

/** A check that found no model as the error HAQA shows: the file and the reason, the fix (the same for both hosts). */
export function modelFileError(c: ModelFileCheck): HaqaError {
  return new HaqaError(`${c.file} is not a usable GGUF model: ${c.reason ?? 'unknown'}`, c.fix ?? '', 'input');
}
