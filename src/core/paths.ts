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
