import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GGUFValueType } from '@huggingface/gguf';
import { writeGguf } from '../../src/core/ggufWriter';
import { writeDemoModel, type DemoShape } from '../../src/core/demoModel';
import { ProcessRunner } from '../../src/core/process/runner';
import { ensureSource } from '../../src/core/toolchains/llamacpp/build';

export const ROOT = path.resolve(__dirname, '../..');
export const FIXTURES = path.join(ROOT, 'test/fixtures');
export const CLI = path.join(ROOT, 'dist/cli.js');
export const GRID = path.join(ROOT, 'bench/data/cpu-grid-epyc-2c.jsonl');

/** A file under test/fixtures, as text. */
export const readFixture = (file: string): string => fs.readFileSync(path.join(FIXTURES, file), 'utf8');

export function tmpDir(prefix = 'haqa-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A vocab-only GGUF with `n` byte-ish tokens, written by our own writer (no llama.cpp source needed). */
export function writeTinyVocab(file: string, n = 512): void {
  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: n - 3 }, (_, i) => `tok${i}`)];
  writeGguf(
    file,
    {
      'general.architecture': { value: 'llama', type: GGUFValueType.STRING },
      'tokenizer.ggml.model': { value: 'llama', type: GGUFValueType.STRING },
      'tokenizer.ggml.tokens': { value: tokens, type: GGUFValueType.ARRAY, subType: GGUFValueType.STRING },
      'tokenizer.ggml.scores': {
        value: tokens.map((_, i) => -i),
        type: GGUFValueType.ARRAY,
        subType: GGUFValueType.FLOAT32,
      },
      'tokenizer.ggml.token_type': {
        value: tokens.map((_, i) => (i < 3 ? 3 : 1)),
        type: GGUFValueType.ARRAY,
        subType: GGUFValueType.INT32,
      },
      'tokenizer.ggml.bos_token_id': { value: 1, type: GGUFValueType.UINT32 },
      'tokenizer.ggml.eos_token_id': { value: 2, type: GGUFValueType.UINT32 },
      'tokenizer.ggml.unknown_token_id': { value: 0, type: GGUFValueType.UINT32 },
    },
    [],
  );
}

export const TINY_SHAPE: DemoShape = { hidden: 256, layers: 2, ffn: 512, heads: 4, headsKv: 4, context: 512 };

/** A small Llama GGUF (random weights) with a synthetic vocab: real format, a few MiB. */
export async function tinyModel(dir: string, shape: DemoShape = TINY_SHAPE): Promise<string> {
  const vocab = path.join(dir, 'vocab.gguf');
  writeTinyVocab(vocab);
  const file = path.join(dir, 'tiny.gguf');
  await writeDemoModel(file, vocab, shape);
  return file;
}

/** A copy of a llama.cpp tools folder (links to the real tools) with one tool replaced by a shell script. */
export function withFakeTool(binDir: string, tool: string, script: string): string {
  const dir = tmpDir('haqa-fake-');
  for (const f of fs.readdirSync(binDir))
    if (f.startsWith('llama-') && f !== tool) fs.symlinkSync(path.join(binDir, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, tool), script, { mode: 0o755 });
  return dir;
}

/**
 * Tools with a llama-bench that answers --version and --list-devices like the real one (so the toolchain is
 * recognised) and runs the shell `body` instead of measuring.
 */
export const withFakeBench = (tools: { binDir: string; bench: string }, body: string): string =>
  withFakeTool(
    tools.binDir,
    'llama-bench',
    `#!/bin/sh\ncase "$1" in --version|--list-devices) exec "${tools.bench}" "$@";; esac\n${body}\n`,
  );

/** The first `n` rows of the recorded CPU grid (llama-bench JSONL), parsed. */
export function gridRows(n: number): Record<string, unknown>[] {
  return fs
    .readFileSync(GRID, 'utf8')
    .trim()
    .split('\n')
    .slice(0, n)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * A small random-weight Llama (hidden 256, 2 layers, context 512; `shape` overrides, e.g. experts) with llama.cpp's
 * real SPM vocabulary, for integration tests on the real tools. Returns its path in a fresh temp folder.
 */
export async function smallLlama(name: string, shape: Partial<DemoShape> = {}): Promise<string> {
  const src = await ensureSource({ runner: new ProcessRunner({ mode: 'pipe' }) });
  const file = path.join(tmpDir(), name);
  await writeDemoModel(file, path.join(src.dir, 'models', 'ggml-vocab-llama-spm.gguf'), {
    hidden: 256,
    layers: 2,
    ffn: 768,
    heads: 4,
    headsKv: 4,
    context: 512,
    ...shape,
  });
  return file;
}
