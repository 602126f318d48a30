/**
 * "Export model": a deployed model file copied out of HAQA's artifact cache (where `haqa clean` or a cleared cache
 * would take it) to a folder of the user's, with progress, cancellation and a free-space check first. The copy is
 * written beside its destination as `<name>.part-<pid>` and renamed into place once complete and flushed, so a cancelled
 * or killed copy never leaves a truncated model under the real name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { HaqaError } from './errors';
import { formatBytes } from './hardware';

/** Room kept free beyond the file itself (the file system's own needs, a log being written meanwhile). */
export const EXPORT_MARGIN_BYTES = 64 << 20;

/** Whether `file` lies inside `dir` (after resolving both; the same path counts). */
export function isInside(file: string, dir: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The name an exported model gets: the source's name and the quantization, not the cache's hash — with a short hash of
 * the recipe only when it has more than the type (an imatrix, per-tensor types), so two recipes never share a name.
 */
export function exportName(
  sourceModel: string,
  cachedFile: string,
  quant: string,
  recipe: Record<string, unknown>,
): string {
  const stem = path
    .basename(sourceModel)
    .replace(/\.gguf$/i, '')
    .replace(/-0*1-of-\d+$/, '');
  const plain = Object.entries(recipe).every(
    ([k, v]) => k === 'quant' || v === 'none' || v === 'default' || k === 'imatrix_chunks',
  );
  const hash = /-([0-9a-f]{16})\.gguf$/.exec(path.basename(cachedFile))?.[1];
  const safe = (s: string) => s.replace(/[^\w.-]/g, '_');
  return `${safe(stem)}-${safe(quant)}${plain || !hash ? '' : `-${hash.slice(0, 8)}`}.gguf`;
}

/** The nearest folder of `p` that exists (a destination folder may not exist yet). */
function existingAncestor(p: string): string {
  let d = path.resolve(p);
  while (!fs.existsSync(d)) {
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

/** Throws a clear error when the file system holding `dir` has less than `bytes` (plus a margin) free. */
export function ensureRoomFor(dir: string, bytes: number, what: string): void {
  const s = fs.statfsSync(existingAncestor(dir));
  const free = Number(s.bavail) * Number(s.bsize);
  const need = bytes + EXPORT_MARGIN_BYTES;
  if (free < need)
    throw new HaqaError(
      `not enough disk space in ${dir} to export ${what}: ${formatBytes(free)} free, ${formatBytes(need)} needed ` +
        `(the file and a ${formatBytes(EXPORT_MARGIN_BYTES)} margin); nothing was copied`,
      'free some space there, or export to another folder',
      'runtime',
    );
}

export interface CopyProgress {
  copied: number;
  total: number;
}

/**
 * Copies `src` to `dest` through `<dest>.part-<pid>`, reporting progress (at most every `everyBytes`, and at the end).
 * An abort stops it, removes the partial file and throws a HaqaError saying nothing was exported; `dest` is then as
 * it was. Checks the room first.
 */
export async function copyModelFile(
  src: string,
  dest: string,
  o: { signal?: AbortSignal; onProgress?: (p: CopyProgress) => void; everyBytes?: number } = {},
): Promise<{ bytes: number }> {
  const total = fs.statSync(src).size;
  ensureRoomFor(path.dirname(dest), total, path.basename(src));
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part-${process.pid}`;
  const every = o.everyBytes ?? 64 << 20;
  let copied = 0;
  let reported = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      copied += chunk.length;
      if (copied - reported >= every) {
        reported = copied;
        o.onProgress?.({ copied, total });
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(fs.createReadStream(src), count, fs.createWriteStream(part), { signal: o.signal });
    const fd = fs.openSync(part, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (copied !== total)
      throw new HaqaError(
        `${src} changed while it was copied (${copied} of ${total} bytes)`,
        'export it again',
        'runtime',
      );
    fs.renameSync(part, dest);
  } catch (e) {
    fs.rmSync(part, { force: true });
    if (o.signal?.aborted)
      throw new HaqaError(
        `the export of ${path.basename(src)} was cancelled at ${formatBytes(copied)} of ${formatBytes(total)}: ` +
          'nothing was written',
        'export it again when you are ready',
        'input',
      );
    throw e;
  }
  o.onProgress?.({ copied, total });
  return { bytes: copied };
}
