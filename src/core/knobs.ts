/**
 * The knob vocabulary every part of the core shares (strategies, priors, the agent, formatting, toolchains): names
 * and sentinel values that mean the same thing whichever toolchain runs them. Toolchain adapters build their search
 * space from these; generic modules import them from here, never from an adapter.
 */
import { projectedBytes, type Config } from './types';

/** A KV cache at least this share of a refused trial's projected GPU memory is worth making smaller first. */
export const KV_SHARE = 0.25;

/** Whether a device's projection is mostly KV cache (KV_SHARE or more of it: a long context). */
export const kvHeavy = (d: { modelBytes: number; contextBytes: number; computeBytes: number }) =>
  d.contextBytes >= KV_SHARE * projectedBytes(d);

/** gpu_layers value meaning "every layer, output included" (llama.cpp clamps it). */
export const ALL_LAYERS = 999;

/**
 * llama.cpp's own defaults for the knobs that have one whatever the machine (threads, GPU layers and flash attention
 * depend on it): among tied trials, the verdict prefers fewer changes from these.
 */
export const TOOL_DEFAULTS: Config = {
  imatrix: 'none',
  output_type: 'default',
  embd_type: 'default',
  tensor_overrides: 'none',
  batch: 2048,
  ubatch: 512,
  cache_type_k: 'f16',
  cache_type_v: 'f16',
};

/**
 * What an artifact is made of: the type, plus every recipe knob that is not at its default (so a plain type keeps
 * the cache key it always had).
 */
/** Whether a configuration's model file is the source itself: its own type (F16 on an F16 source), no other recipe knob. */
export const usesSourceAsIs = (config: Config, sourceType: string): boolean =>
  config.quant === sourceType && Object.keys(quantRecipe(config)).length === 1;

export function quantRecipe(config: Config): Record<string, string | number> {
  const r: Record<string, string | number> = { quant: String(config.quant) };
  if (config.imatrix !== undefined && config.imatrix !== 'none') {
    r.imatrix = String(config.imatrix);
    r.imatrix_chunks = Number(config.imatrix_chunks);
  }
  if (config.output_type !== undefined && config.output_type !== 'default') r.output_type = String(config.output_type);
  if (config.embd_type !== undefined && config.embd_type !== 'default') r.embd_type = String(config.embd_type);
  if (config.tensor_overrides !== undefined && config.tensor_overrides !== 'none')
    r.tensor_overrides = String(config.tensor_overrides);
  return r;
}
