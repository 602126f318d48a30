/** Export model: the copy out of the cache (progress, cancellation, no partial file left), the room check, the name. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyModelFile, ensureRoomFor, exportName, isInside } from '../../src/core/exportModel';
import { HaqaError } from '../../src/core/errors';
import { tmpDir } from '../helpers/fixtures';

const MiB = 1 << 20;
const file = (dir: string, mib: number) => {
  const f = path.join(dir, 'cache', 'abcd', 'Q4_K_M-0123456789abcdef.gguf');
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, crypto.randomBytes(mib * MiB));
  return f;
};
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

test('a model file is copied whole to a new folder, with progress up to its size, and no partial file left', async () => {
  const dir = tmpDir('haqa-export-');
  const src = file(dir, 6);
  const dest = path.join(dir, 'ws', 'models', 'm-Q4_K_M.gguf');
  const seen: number[] = [];
  const r = await copyModelFile(src, dest, { everyBytes: MiB, onProgress: (p) => seen.push(p.copied) });
  assert.equal(r.bytes, 6 * MiB);
  assert.equal(sha(dest), sha(src));
  assert.ok(seen.length >= 6, `only ${seen.length} progress reports`);
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
  );
  assert.equal(seen.at(-1), 6 * MiB);
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), ['m-Q4_K_M.gguf']);
});

test('a cancelled copy writes nothing: no file under the name, no .part left, an existing file untouched', async () => {
  const dir = tmpDir('haqa-export-');
  const src = file(dir, 16);
  const dest = path.join(dir, 'models', 'm.gguf');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, 'the previous export');
  const ac = new AbortController();
  // Cancelled at its first progress report, as the notification's Cancel would.
  const copy = copyModelFile(src, dest, { signal: ac.signal, everyBytes: MiB, onProgress: () => ac.abort() });
  await assert.rejects(copy, (e: unknown) => {
    assert.ok(e instanceof HaqaError);
    assert.match(
      e.message,
      /^the export of Q4_K_M-0123456789abcdef\.gguf was cancelled at [\d.]+ \S+ of 16\.0 MiB: nothing was written$/,
    );
    return true;
  });
  assert.equal(fs.readFileSync(dest, 'utf8'), 'the previous export');
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), ['m.gguf']);
});

test('a destination without room is refused before anything is copied, naming what is free and what is needed', () => {
  const dir = tmpDir('haqa-export-');
  const free = (() => {
    const s = fs.statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  })();
  // A folder that does not exist yet is measured on the file system that would hold it.
  const target = path.join(dir, 'not', 'yet');
  assert.throws(
    () => ensureRoomFor(target, free + 1024 * MiB, 'm.gguf'),
    (e: unknown) => {
      assert.ok(e instanceof HaqaError);
      assert.match(
        e.message,
        /^not enough disk space in .*not\/yet to export m\.gguf: [\d.]+ \S+ free, [\d.]+ \S+ needed/,
      );
      assert.match(e.message, /nothing was copied$/);
      return true;
    },
  );
  assert.ok(!fs.existsSync(path.join(dir, 'not')), 'the check created the folder');
  ensureRoomFor(target, MiB, 'm.gguf');
});

test('an exported model is named for its source and quantization, not the cache hash; a fuller recipe keeps a short hash', () => {
  const cached = '/c/artifacts/abcd/Q4_K_M-none-0123456789abcdef.gguf';
  const plain = { quant: 'Q4_K_M', imatrix: 'none', imatrix_chunks: 32, output_type: 'default' };
  assert.equal(exportName('/m/llama-3-8b-f16.gguf', cached, 'Q4_K_M', plain), 'llama-3-8b-f16-Q4_K_M.gguf');
  assert.equal(
    exportName('/m/big-00001-of-00003.gguf', cached, 'Q4_K_M', { ...plain, imatrix: 'builtin' }),
    'big-Q4_K_M-01234567.gguf',
  );
  assert.ok(isInside('/c/artifacts/abcd/x.gguf', '/c'));
  assert.ok(!isInside('/cache2/x.gguf', '/c'));
  assert.ok(!isInside('/c/../d/x.gguf', '/c'));
});
