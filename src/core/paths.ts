import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The user cache root: $HAQA_CACHE_DIR, else $XDG_CACHE_HOME/haqa, else ~/.cache/haqa. */
export function cacheRoot(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.HAQA_CACHE_DIR) return path.resolve(process.env.HAQA_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'haqa');
}

/** Where the toolchain lives. Shared by every cacheDir override so a build is made once per user. */
export function toolchainRoot(): string {
  return path.join(cacheRoot(process.env.HAQA_TOOLCHAIN_CACHE), 'llama.cpp');
}

/**
 * A file HAQA ships beside its code (assets/…, the trained fixture), found from the code's folder up: dist/ in the
 * bundle, src/… in tests. Undefined when this install does not carry it (the .vsix leaves test/ out).
 */
export function shippedFile(rel: string, from = __dirname): string | undefined {
  let d = from;
  for (let i = 0; i < 6; i++) {
    const f = path.join(d, rel);
    if (fs.existsSync(f)) return f;
    d = path.dirname(d);
  }
  return undefined;
}
