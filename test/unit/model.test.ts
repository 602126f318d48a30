import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectModel, shardFiles } from '../../src/core/model';
import { HaqaError } from '../../src/core/errors';
import { TINY_SHAPE, tinyModel, tmpDir } from '../helpers/fixtures';

test('a GGUF written by our writer reads back with the right facts', async () => {
  const dir = tmpDir();
  const m = await inspectModel(await tinyModel(dir));
  assert.equal(m.arch, 'llama');
  assert.equal(m.layers, 2);
  assert.equal(m.embeddingLength, 256);
  assert.equal(m.feedForwardLength, 512);
  assert.equal(m.vocabSize, 512);
  assert.equal(m.fileType, 'F16');
  assert.deepEqual(m.rowSizes, [256, 512]);
  // 2 × (512×256) embeddings/output + 2 layers × (4×256² + 3×256×512) + norms
  assert.equal(m.parameterCount, 2 * 512 * 256 + 2 * (4 * 256 * 256 + 3 * 256 * 512) + 256 * 5);
});

async function rejectsClearly(file: string, re: RegExp) {
  await assert.rejects(inspectModel(file), (e: unknown) => {
    assert.ok(e instanceof HaqaError, `not a HaqaError: ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(e.fix.length > 10);
    return true;
  });
}

test('bad files get a clear error naming the cause', async () => {
  const dir = tmpDir();
  await rejectsClearly(path.join(dir, 'missing.gguf'), /not found/);
  await rejectsClearly(dir, /not a file/);
  fs.writeFileSync(path.join(dir, 'text.gguf'), 'this is not a model at all, just text\n');
  await rejectsClearly(path.join(dir, 'text.gguf'), /GGUF magic/);
  const good = await tinyModel(dir);
  const buf = fs.readFileSync(good);
  fs.writeFileSync(path.join(dir, 'cut-data.gguf'), buf.subarray(0, buf.length - 1000));
  await rejectsClearly(path.join(dir, 'cut-data.gguf'), /truncated/);
  fs.writeFileSync(path.join(dir, 'cut-header.gguf'), buf.subarray(0, 100));
  await rejectsClearly(path.join(dir, 'cut-header.gguf'), /truncated/);
});

test('a split model is given by its first file with every shard beside it; else the fix names the file to give', async () => {
  const dir = tmpDir();
  const good = await tinyModel(dir);
  const shard = (i: number) => path.join(dir, `m-${String(i).padStart(5, '0')}-of-00003.gguf`);
  for (const i of [1, 3]) fs.copyFileSync(good, shard(i));
  await rejectsClearly(shard(1), /split in 3 files and 1 of them are missing \(m-00002-of-00003\.gguf\)/);
  fs.copyFileSync(good, shard(2));
  await assert.rejects(inspectModel(shard(2)), (e: unknown) => {
    assert.ok(e instanceof HaqaError);
    assert.match(e.message, /is shard 2 of a model split in 3/);
    assert.match(e.fixFor('cli'), /pass its first file to --model: .*m-00001-of-00003\.gguf/);
    return true;
  });
  assert.deepEqual(shardFiles(good), [good]);
  assert.deepEqual(shardFiles(shard(1)), [shard(1), shard(2), shard(3)]);
});

test('the GGUF writer makes a mixture of experts (3-D expert tensors and a router) that reads back as one', async () => {
  const dir = tmpDir();
  const file = await tinyModel(dir, { ...TINY_SHAPE, experts: 4, expertsUsed: 2 });
  const m = await inspectModel(file);
  assert.equal(m.expertCount, 4);
  assert.equal(m.expertUsedCount, 2);
  const dense = await inspectModel(await tinyModel(tmpDir()));
  assert.equal(dense.expertCount, undefined);
  // Per layer: a router (hidden × experts) and three expert tensors, 4 times a dense block's ffn.
  const h = TINY_SHAPE.hidden;
  const f = TINY_SHAPE.ffn;
  assert.equal(m.parameterCount - dense.parameterCount, TINY_SHAPE.layers * (h * 4 + 3 * h * f * 4 - 3 * h * f));
});
