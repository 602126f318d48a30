import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { HaqaError, haltingError } from './errors';
import { cacheRoot } from './paths';
import { formatBytes } from './hardware';
import { PART_FILE, sweepOnce } from './leftovers';
import { shardFiles } from './model';

/** Content-keyed artifacts (quantized models, later imatrix files and KLD logits) in the user cache dir. */
export class ArtifactCache {
  readonly dir: string;

  constructor(cacheDir?: string) {
    this.dir = path.join(cacheRoot(cacheDir), 'artifacts');
    // A quantization killed with its HAQA process leaves `….part-<pid>` (a model's size): gone once its PID is.
    sweepOnce(this.dir, PART_FILE, 2);
  }

  /** sha256 of the file's content, remembered per (path, size, mtime) so a large model is hashed once. */
  async digest(file: string): Promise<string> {
    const st = fs.statSync(file);
    const memoFile = path.join(this.dir, 'digests.json');
    let memo: Record<string, string> = {};
    try {
      memo = JSON.parse(fs.readFileSync(memoFile, 'utf8'));
    } catch {
      /* first time */
    }
    const id = `${path.resolve(file)}|${st.size}|${st.mtimeMs}`;
    if (memo[id]) return memo[id];
    const h = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      fs.createReadStream(file, { highWaterMark: 4 << 20 })
        .on('data', (d) => h.update(d))
        .on('end', resolve)
        .on('error', reject);
    });
    const digest = h.digest('hex');
    memo[id] = digest;
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(`${memoFile}.tmp`, JSON.stringify(memo));
    fs.renameSync(`${memoFile}.tmp`, memoFile);
    return digest;
  }

  /**
   * The content key of a model: its sha256, or for a split model (`…-00001-of-0000N.gguf`) the sha256 of its shards'
   * digests in order, so a change in any shard is a different model.
   */
  async modelDigest(file: string): Promise<string> {
    const files = shardFiles(file);
    if (files.length === 1) return this.digest(file);
    const h = createHash('sha256');
    for (const f of files) h.update(await this.digest(f));
    return h.digest('hex');
  }

  /** Where the artifact made from `sourceDigest` by `recipe` lives (whether or not it exists yet). */
  pathFor(sourceDigest: string, recipe: Record<string, unknown>, ext = '.gguf'): string {
    const r = createHash('sha256')
      .update(JSON.stringify(recipe, Object.keys(recipe).sort()))
      .digest('hex')
      .slice(0, 16);
    const label = Object.values(recipe)
      .filter((v) => typeof v === 'string')
      .join('-')
      .replace(/[^\w.-]/g, '_');
    return path.join(this.dir, sourceDigest.slice(0, 16), `${label}-${r}${ext}`);
  }

  /** Throws a clear error when the file system holding the cache has less than `needBytes` free. */
  ensureFreeSpace(needBytes: number): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const s = fs.statfsSync(this.dir);
    const free = Number(s.bavail) * Number(s.bsize);
    if (free < needBytes) {
      throw haltingError(
        new HaqaError(
          `not enough disk space in ${this.dir}: ${formatBytes(free)} free, ` +
            `${formatBytes(needBytes)} needed for the quantized model`,
          {
            cli: 'free some space, run {command}, or point the cache elsewhere ({option} / HAQA_CACHE_DIR)',
            // The extension has no clean command: emptying the folder is what `haqa clean` does.
            vscode:
              `free some space, delete ${this.dir} (cached artifacts HAQA rebuilds when needed), ` +
              'or point the cache elsewhere ({option})',
            command: { cli: 'haqa clean' },
            flag: '--cache-dir',
            setting: 'haqa.cacheDir',
          },
          'runtime',
        ),
      );
    }
  }

  sizeBytes(): number {
    let total = 0;
    const walk = (d: string) => {
      if (!fs.existsSync(d)) return;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else total += fs.statSync(p).size;
      }
    };
    walk(this.dir);
    return total;
  }

  clean(): number {
    const size = this.sizeBytes();
    fs.rmSync(this.dir, { recursive: true, force: true });
    return size;
  }
}
