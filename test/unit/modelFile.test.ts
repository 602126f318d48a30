import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HaqaError } from '../../src/core/errors';
import { inspectModel } from '../../src/core/model';
import { checkModelFile, gitRoot, lfsPullCommand, parseLfsPointer } from '../../src/core/modelFile';
import { tinyModel, tmpDir } from '../helpers/fixtures';

/** A pointer as `git lfs` writes it (git-lfs docs/spec.md): version, oid, size; 130-ish bytes of text. */
const POINTER =
  'version https://git-lfs.github.com/spec/v1\n' +
  'oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n' +
  'size 11114368\n';

test('a GGUF is recognised by its magic bytes; a Git LFS pointer, a text file and an empty one are not, each with its reason', async () => {
  const dir = tmpDir();
  const gguf = await tinyModel(dir);
  const ok = checkModelFile(gguf);
  assert.equal(ok.kind, 'gguf');
  assert.equal(ok.sizeBytes, fs.statSync(gguf).size);
  assert.equal(ok.reason, undefined);

  const ptr = path.join(dir, 'model-f16.gguf');
  fs.writeFileSync(ptr, POINTER);
  const lfs = checkModelFile(ptr);
  assert.equal(lfs.kind, 'lfs-pointer');
  assert.equal(lfs.lfsSizeBytes, 11114368);
  assert.match(lfs.reason!, /Git LFS pointer \(\d+ bytes of text for a 10\.6 MiB file\)/);
  assert.match(lfs.fix!, /git lfs pull --include model-f16\.gguf$/);
  assert.equal(lfs.short, 'LFS pointer — run git lfs pull');

  const readme = path.join(dir, 'README.md');
  fs.writeFileSync(readme, '# A model card\n\nThis is not a model, only its description: long enough to be read.\n');
  const text = checkModelFile(readme);
  assert.equal(text.kind, 'not-gguf');
  assert.match(text.reason!, /GGUF magic bytes/);

  const empty = path.join(dir, 'empty.gguf');
  fs.writeFileSync(empty, '');
  assert.equal(checkModelFile(empty).reason, 'the file is empty');
  const cut = path.join(dir, 'cut.gguf');
  fs.writeFileSync(cut, fs.readFileSync(gguf).subarray(0, 10));
  assert.equal(checkModelFile(cut).reason, 'it is cut short (10 bytes)');

  assert.equal(checkModelFile(path.join(dir, 'nope.gguf')).kind, 'missing');
  assert.equal(checkModelFile(dir).kind, 'not-a-file');
});

test('only the pointer format is a pointer: its version line first, under 1 KiB (the legacy "hawser" name too)', () => {
  assert.deepEqual(parseLfsPointer(Buffer.from(POINTER)), {
    oid: 'sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393',
    sizeBytes: 11114368,
  });
  assert.ok(parseLfsPointer(Buffer.from(POINTER.replace('git-lfs.github.com', 'hawser.github.com'))));
  assert.ok(parseLfsPointer(Buffer.from(POINTER.replace(/\n/g, '\r\n'))), 'CRLF checkout');
  assert.equal(parseLfsPointer(Buffer.from(`# notes\n${POINTER}`)), undefined);
  assert.equal(parseLfsPointer(Buffer.from(POINTER + 'x'.repeat(1024))), undefined);
  assert.equal(parseLfsPointer(Buffer.from('version https://example.com/spec/v1\n')), undefined);
});

test('the fix names the file by its path in the repository and says where to run it', () => {
  const repo = tmpDir();
  fs.mkdirSync(path.join(repo, '.git'));
  fs.mkdirSync(path.join(repo, 'models', 'my models'), { recursive: true });
  const file = path.join(repo, 'models', 'my models', 'llama.gguf');
  fs.writeFileSync(file, POINTER);
  assert.equal(gitRoot(file), repo);
  assert.equal(lfsPullCommand(file), `cd ${repo} && git lfs pull --include "models/my models/llama.gguf"`);
  assert.match(
    checkModelFile(file).fix!,
    /^download it with Git LFS: cd .* && git lfs pull --include "models\/my models\/llama\.gguf"$/,
  );
});

test('inspectModel refuses an LFS pointer with `git lfs pull` as the fix, for the CLI and VS Code alike', async () => {
  const dir = tmpDir();
  const ptr = path.join(dir, 'pointer.gguf');
  fs.writeFileSync(ptr, POINTER);
  await assert.rejects(inspectModel(ptr), (e: unknown) => {
    assert.ok(e instanceof HaqaError);
    assert.match(e.message, /pointer\.gguf is not a usable GGUF model: it is a Git LFS pointer/);
    for (const host of ['cli', 'vscode'] as const) assert.match(e.fixFor(host), /git lfs pull --include pointer\.gguf/);
    assert.equal(e.code, 'input');
    return true;
  });
});
