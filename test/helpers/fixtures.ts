import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GGUFValueType } from '@huggingface/gguf';
import { writeGguf } from '../../src/core/ggufWriter';
import { writeDemoModel, type DemoShape } from '../../src/core/demoModel';

export const ROOT = path.resolve(__dirname, '../..');
export const FIXTURES = path.join(ROOT, 'test/fixtures');
export const CLI = path.join(ROOT, 'dist/cli.js');
export const GRID = path.join(ROOT, 'bench/data/cpu-grid-epyc-2c.jsonl');

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
