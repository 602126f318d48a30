import * as fs from 'node:fs';
import * as path from 'node:path';
import { gguf, GGUFValueType } from '@huggingface/gguf';
import { writeGguf, type TensorSpec } from './ggufWriter';
import { HaqaError } from './errors';
import { BUILD_COMMAND } from './toolchains/llamacpp/build';
import { shippedFile } from './paths';
import type { Workload } from './types';

export interface DemoShape {
  hidden: number;
  layers: number;
  ffn: number;
  heads: number;
  headsKv: number;
  context: number;
  /** A mixture of experts (llama.cpp's `llama` architecture with experts, as Mixtral): experts per layer, used per token. */
  experts?: number;
  expertsUsed?: number;
}

/**
 * The demo's model: the committed trained fixture (test/fixtures/trained/README.md), so its accuracy figures mean
 * something. Its context is 512: prompt and generation fit it, and enough tokens that a run is not all start-up.
 */
export const TRAINED_DEMO = {
  rel: 'test/fixtures/trained/haqa-tiny-pystdlib-f16.gguf',
  about: 'a small Llama trained on Python source (5.5M parameters, F16), accuracy measured on held-out Python text',
  workload: { promptTokens: 256, genTokens: 256, depth: 0, repetitions: 5 } satisfies Workload,
};
export const trainedDemoModel = () => shippedFile(TRAINED_DEMO.rel);

/** Llama-shaped, dims multiples of 256 so every k-quant applies; 46M params with the 32000-token SPM vocab. */
export const DEMO_SHAPE: DemoShape = { hidden: 512, layers: 4, ffn: 1536, heads: 8, headsKv: 8, context: 2048 };

/** xorshift32: a deterministic stream of 32-bit values for the random weights. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Random F16 weights with exponent 5..10 (magnitudes ~1e-3 .. 6e-2), random mantissa and sign. */
function fillHalfRandom(seed: number) {
  const next = xorshift(seed);
  return (buf: Buffer) => {
    for (let i = 0; i + 1 < buf.length; i += 2) {
      const s = next();
      buf.writeUInt16LE(((s >>> 31) << 15) | ((5 + (s % 6)) << 10) | ((s >>> 8) & 0x3ff), i);
    }
  };
}

/** F32 values in ±0.05 (a router's weights), deterministic. */
function fillFloatRandom(seed: number) {
  const next = xorshift(seed);
  return (buf: Buffer) => {
    for (let i = 0; i + 3 < buf.length; i += 4) buf.writeFloatLE(((next() % 2001) - 1000) / 20000, i);
  };
}

const ones = (buf: Buffer) => {
  for (let i = 0; i < buf.length; i += 4) buf.writeFloatLE(1, i);
};

/**
 * Writes a random-weight Llama model in real GGUF format, with the tokenizer copied from a vocab-only GGUF
 * (llama.cpp ships `models/ggml-vocab-llama-spm.gguf`). Speed does not depend on weight values, so such a model
 * is a faithful subject for speed trials (not for accuracy: its perplexity is that of noise).
 */
export async function writeDemoModel(out: string, vocabGguf: string, shape: DemoShape = DEMO_SHAPE): Promise<void> {
  if (!fs.existsSync(vocabGguf)) {
    throw new HaqaError(`vocab file not found: ${vocabGguf}`, {
      text: 'run {command} so the llama.cpp source (with its vocab files) is in the cache',
      command: BUILD_COMMAND,
    });
  }
  const vocab = await gguf(vocabGguf, { allowLocalFile: true, typedMetadata: true });
  const kv: Record<string, { value: unknown; type: GGUFValueType; subType?: GGUFValueType }> = {
    'general.architecture': { value: 'llama', type: GGUFValueType.STRING },
    'general.name': { value: `haqa-demo-llama-h${shape.hidden}-l${shape.layers}`, type: GGUFValueType.STRING },
    'general.file_type': { value: 1, type: GGUFValueType.UINT32 },
    'llama.context_length': { value: shape.context, type: GGUFValueType.UINT32 },
    'llama.embedding_length': { value: shape.hidden, type: GGUFValueType.UINT32 },
    'llama.block_count': { value: shape.layers, type: GGUFValueType.UINT32 },
    'llama.feed_forward_length': { value: shape.ffn, type: GGUFValueType.UINT32 },
    'llama.attention.head_count': { value: shape.heads, type: GGUFValueType.UINT32 },
    'llama.attention.head_count_kv': { value: shape.headsKv, type: GGUFValueType.UINT32 },
    'llama.rope.dimension_count': { value: shape.hidden / shape.heads, type: GGUFValueType.UINT32 },
    'llama.attention.layer_norm_rms_epsilon': { value: 1e-5, type: GGUFValueType.FLOAT32 },
    ...(shape.experts
      ? {
          'llama.expert_count': { value: shape.experts, type: GGUFValueType.UINT32 },
          'llama.expert_used_count': { value: shape.expertsUsed ?? 2, type: GGUFValueType.UINT32 },
        }
      : {}),
  };
  let nVocab = 0;
  for (const [k, v] of Object.entries(vocab.typedMetadata)) {
    if (!k.startsWith('tokenizer.')) continue;
    kv[k] = v as (typeof kv)[string];
    if (k === 'tokenizer.ggml.tokens') nVocab = (v as { value: unknown[] }).value.length;
  }
  if (!nVocab)
    throw new HaqaError(
      `${vocabGguf} holds no tokenizer.ggml.tokens`,
      'use a llama.cpp vocab GGUF such as models/ggml-vocab-llama-spm.gguf',
    );

  const { hidden: h, ffn: f, layers } = shape;
  const kvDim = (h / shape.heads) * shape.headsKv;
  let seed = 1;
  const w = (name: string, cols: number, rows: number, experts?: number): TensorSpec => ({
    name,
    shape: experts ? [cols, rows, experts] : [cols, rows],
    dtype: 1,
    fill: fillHalfRandom(seed++),
  });
  const E = shape.experts;
  // A dense feed-forward block, or the experts' (3-D, one slice per expert) with the router that picks them.
  const ffn = (i: number): TensorSpec[] =>
    E
      ? [
          { name: `blk.${i}.ffn_gate_inp.weight`, shape: [h, E], dtype: 0, fill: fillFloatRandom(seed++) },
          w(`blk.${i}.ffn_gate_exps.weight`, h, f, E),
          w(`blk.${i}.ffn_up_exps.weight`, h, f, E),
          w(`blk.${i}.ffn_down_exps.weight`, f, h, E),
        ]
      : [w(`blk.${i}.ffn_gate.weight`, h, f), w(`blk.${i}.ffn_up.weight`, h, f), w(`blk.${i}.ffn_down.weight`, f, h)];
  const norm = (name: string): TensorSpec => ({ name, shape: [h], dtype: 0, fill: ones });
  const tensors: TensorSpec[] = [
    w('token_embd.weight', h, nVocab),
    norm('output_norm.weight'),
    w('output.weight', h, nVocab),
  ];
  for (let i = 0; i < layers; i++) {
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`),
      w(`blk.${i}.attn_q.weight`, h, h),
      w(`blk.${i}.attn_k.weight`, h, kvDim),
      w(`blk.${i}.attn_v.weight`, h, kvDim),
      w(`blk.${i}.attn_output.weight`, h, h),
      norm(`blk.${i}.ffn_norm.weight`),
      ...ffn(i),
    );
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  writeGguf(out, kv, tensors);
}
