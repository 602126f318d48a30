/**
 * What a killed HAQA process leaves behind — a runner's `haqa-run-<pid>-*` temp folder, a quantization's
 * `<artifact>.part-<pid>…` file (the size of a model) — is named with its PID. Once that PID is gone the leftover is
 * removed, the next time a runner or an artifact cache starts; a leftover of a live PID is never touched.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processAlive } from './lock';

/** Leftovers of runners: `haqa-run-<pid>-XXXXXX` in the temp folder. */
export const RUN_DIR = /^haqa-run-(\d+)-/;
/** Leftovers of artifact writes: `<name>.part-<pid>` with an optional extension after it. */
export const PART_FILE = /\.part-(\d+)(\.[\w.]+)?$/;

/**
 * Removes the entries of `dir` (and, to `depth`, of its folders) whose name matches `pattern` and whose PID (the
 * pattern's first group) is not running. Returns how many were removed. Never throws: a sweep is housekeeping.
 */
export function sweep(dir: string, pattern: RegExp, depth = 0): number {
  let removed = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const m = pattern.exec(e.name);
    const p = path.join(dir, e.name);
    if (m) {
      const pid = Number(m[1]);
      if (pid !== process.pid && !processAlive(pid)) {
        try {
          fs.rmSync(p, { recursive: true, force: true });
          removed++;
        } catch {
          /* someone else's, or gone */
        }
      }
    } else if (depth > 0 && e.isDirectory()) removed += sweep(p, pattern, depth - 1);
  }
  return removed;
}

const swept = new Set<string>();
/** `sweep`, once per process and folder (a session starts several runners and artifact caches on the same folders). */
export function sweepOnce(dir: string, pattern: RegExp, depth = 0): number {
  const key = `${path.resolve(dir)}|${pattern.source}`;
  if (swept.has(key)) return 0;
  swept.add(key);
  return sweep(dir, pattern, depth);
}

/** The temp folders of runners whose process is gone (once per process). */
export const sweepRunDirs = (): number => sweepOnce(os.tmpdir(), RUN_DIR);
