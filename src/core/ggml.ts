/** ggml tensor types and llama.cpp file types: the few facts the engine needs about them. */
import type { ModelInfo } from './types';

/** ggml_type id → [name, block size (elements), bytes per block]. */
export const GGML_TYPES: Record<number, [string, number, number]> = {
  0: ['F32', 1, 4],
  1: ['F16', 1, 2],
  2: ['Q4_0', 32, 18],
  3: ['Q4_1', 32, 20],
  6: ['Q5_0', 32, 22],
  7: ['Q5_1', 32, 24],
  8: ['Q8_0', 32, 34],
  9: ['Q8_1', 32, 36],
  10: ['Q2_K', 256, 84],
  11: ['Q3_K', 256, 110],
  12: ['Q4_K', 256, 144],
  13: ['Q5_K', 256, 176],
  14: ['Q6_K', 256, 210],
  15: ['Q8_K', 256, 292],
  16: ['IQ2_XXS', 256, 66],
  17: ['IQ2_XS', 256, 74],
  18: ['IQ3_XXS', 256, 98],
  19: ['IQ1_S', 256, 50],
  20: ['IQ4_NL', 32, 18],
  21: ['IQ3_S', 256, 110],
  22: ['IQ2_S', 256, 82],
  23: ['IQ4_XS', 256, 136],
  24: ['I8', 1, 1],
  25: ['I16', 1, 2],
  26: ['I32', 1, 4],
  27: ['I64', 1, 8],
  28: ['F64', 1, 8],
  29: ['IQ1_M', 256, 56],
  30: ['BF16', 1, 2],
};

/** llama_ftype id → the name llama-quantize accepts. */
export const FILE_TYPES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
  38: 'MXFP4_MOE',
};

/** Types a model can be re-quantized from without --allow-requantize. */
export const UNQUANTIZED_FILE_TYPES = new Set(['F32', 'F16', 'BF16']);

export interface QuantType {
  name: string;
  /** Approximate bits per weight of the whole file (llama-quantize's own figures). */
  bpw: number;
  /** Row length every quantized matrix must be a multiple of. */
  block: number;
  /** The ggml_type names llama-bench reports for a file of this type ("model_type" column). */
  describe: string;
}

/** The quantization types HAQA searches, best quality first. `describe` is llama_model_ftype_name(). */
export const QUANT_TYPES: QuantType[] = [
  { name: 'F16', bpw: 16, block: 1, describe: 'F16' },
  { name: 'Q8_0', bpw: 8.5, block: 32, describe: 'Q8_0' },
  { name: 'Q6_K', bpw: 6.56, block: 256, describe: 'Q6_K' },
  { name: 'Q5_K_M', bpw: 5.69, block: 256, describe: 'Q5_K - Medium' },
  { name: 'Q5_K_S', bpw: 5.54, block: 256, describe: 'Q5_K - Small' },
  { name: 'Q4_K_M', bpw: 4.89, block: 256, describe: 'Q4_K - Medium' },
  { name: 'Q4_K_S', bpw: 4.58, block: 256, describe: 'Q4_K - Small' },
  { name: 'IQ4_XS', bpw: 4.25, block: 256, describe: 'IQ4_XS - 4.25 bpw' },
  { name: 'Q4_0', bpw: 4.5, block: 32, describe: 'Q4_0' },
  { name: 'Q3_K_M', bpw: 3.91, block: 256, describe: 'Q3_K - Medium' },
  { name: 'Q3_K_S', bpw: 3.5, block: 256, describe: 'Q3_K - Small' },
  { name: 'Q2_K', bpw: 3.0, block: 256, describe: 'Q2_K - Medium' },
];

export function quantType(name: string): QuantType | undefined {
  return QUANT_TYPES.find((q) => q.name === name);
}

/** Maps llama-bench's model_type ("llama 46M Q4_K - Medium") back to a quant type name. */
export function quantFromModelType(modelType: string): string | undefined {
  // Longest description first so "Q4_K - Small" does not match a shorter prefix.
  const sorted = [...QUANT_TYPES].sort((a, b) => b.describe.length - a.describe.length);
  for (const q of sorted) if (modelType.endsWith(` ${q.describe}`) || modelType === q.describe) return q.name;
  return undefined;
}

export function tensorBytes(dtype: number, elements: number): number | undefined {
  const t = GGML_TYPES[dtype];
  if (!t) return undefined;
  return (elements / t[1]) * t[2];
}

/** Expected file size of `model` quantized to `quant` (from bits per weight; the source is F32 or 16-bit). */
export function estimatedFileBytes(model: ModelInfo, quant: string): number {
  const q = quantType(quant);
  const srcBits = model.fileType === 'F32' ? 32 : 16;
  return q && UNQUANTIZED_FILE_TYPES.has(model.fileType) ? (model.sizeBytes * q.bpw) / srcBits : model.sizeBytes;
}
