import * as fs from 'node:fs';
import * as path from 'node:path';
import { gguf } from '@huggingface/gguf';
import { HaqaError, errorMessage, type HaqaCommand } from './errors';
import { FILE_TYPES, GGML_TYPES, tensorBytes } from './ggml';
import type { ModelInfo } from './types';

const GGUF_MAGIC = Buffer.from('GGUF');
/** Where a model is chosen: `haqa optimize --model`, "HAQA: Optimize Model". */
const OPTIMIZE: HaqaCommand = { cli: 'haqa optimize', vscode: 'haqa.optimizeModel' };

function notGguf(file: string, why: string): HaqaError {
  return new HaqaError(
    `${file} is not a usable GGUF model: ${why}`,
    {
      cli:
        'point --model at a complete .gguf file (llama.cpp format); ' +
        're-download or re-convert it if it was cut short',
      vscode:
        'pick a complete .gguf file (llama.cpp format) in {command}; re-download or re-convert it if it was cut short',
      command: OPTIMIZE,
    },
    'input',
  );
}

/** Reads the model facts from a GGUF header. Every way a file can be wrong becomes a HaqaError. */
export async function inspectModel(file: string): Promise<ModelInfo> {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new HaqaError(
      `model file not found: ${abs}`,
      {
        cli: 'check the path given to --model',
        vscode: 'check that the file still exists, or pick another in {command}',
        command: OPTIMIZE,
      },
      'input',
    );
  }
  if (!st.isFile()) throw new HaqaError(`${abs} is not a file`, 'pass the path of a .gguf file, not a folder', 'input');
  let fd: number;
  try {
    fd = fs.openSync(abs, 'r');
  } catch (e) {
    throw new HaqaError(`cannot read ${abs}: ${errorMessage(e)}`, 'check the file permissions', 'input');
  }
  const head = Buffer.alloc(4);
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (st.size < 24 || !head.equals(GGUF_MAGIC)) throw notGguf(abs, 'the file does not start with the GGUF magic bytes');

  let parsed;
  try {
    parsed = await gguf(abs, { allowLocalFile: true, computeParametersCount: true });
  } catch (e) {
    throw notGguf(abs, `its header cannot be parsed (${errorMessage(e)}); the file is probably truncated or corrupt`);
  }
  const md = parsed.metadata as unknown as Record<string, unknown>;
  const arch = String(md['general.architecture'] ?? '');
  if (!arch) throw notGguf(abs, 'general.architecture is missing from its metadata');
  const num = (k: string): number => {
    const v = md[`${arch}.${k}`];
    return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
  };

  // Truncation check: every tensor's data must lie inside the file.
  let end = 0;
  const rowSizes = new Set<number>();
  for (const t of parsed.tensorInfos) {
    const shape = t.shape.map(Number);
    const elements = shape.reduce((a, b) => a * b, 1);
    const bytes = tensorBytes(t.dtype, elements);
    if (bytes !== undefined) end = Math.max(end, Number(parsed.tensorDataOffset) + Number(t.offset) + bytes);
    if (shape.length >= 2 && /weight$/.test(t.name) && !/norm/.test(t.name)) rowSizes.add(shape[0]);
  }
  if (end > st.size) {
    throw notGguf(abs, `it is truncated: its tensors need ${end} bytes but the file has ${st.size}`);
  }

  const ftypeId = md['general.file_type'];
  let fileType = typeof ftypeId === 'number' ? FILE_TYPES[ftypeId] : undefined;
  if (!fileType) {
    // Old files without general.file_type: name it after the most common tensor type.
    const counts = new Map<number, number>();
    for (const t of parsed.tensorInfos) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    fileType = top ? (GGML_TYPES[top[0]]?.[0] ?? 'unknown') : 'unknown';
  }
  const tokens = md['tokenizer.ggml.tokens'];
  return {
    path: abs,
    name: printable(String(md['general.name'] ?? path.basename(abs, '.gguf'))),
    arch,
    parameterCount: parsed.parameterCount,
    layers: num('block_count'),
    embeddingLength: num('embedding_length'),
    feedForwardLength: num('feed_forward_length'),
    headCount: num('attention.head_count'),
    headCountKv: num('attention.head_count_kv') || num('attention.head_count'),
    vocabSize: Array.isArray(tokens) ? tokens.length : num('vocab_size'),
    contextLength: num('context_length'),
    fileType,
    sizeBytes: st.size,
    rowSizes: [...rowSizes].sort((a, b) => a - b),
  };
}

export function describeModel(m: ModelInfo): string {
  const p =
    m.parameterCount >= 1e9 ? `${(m.parameterCount / 1e9).toFixed(2)}B` : `${(m.parameterCount / 1e6).toFixed(1)}M`;
  const mib = (m.sizeBytes / 2 ** 20).toFixed(1);
  return (
    `${m.name} (${m.arch}, ${p} params, ${m.layers} layers, hidden ${m.embeddingLength}, ffn ${m.feedForwardLength}, ` +
    `heads ${m.headCount}/${m.headCountKv}, vocab ${m.vocabSize}, ${m.fileType}, ${mib} MiB)`
  );
}

/**
 * A name from a file's metadata as HAQA shows it: control characters (terminal escapes, newlines) replaced, at most
 * 120 characters. A GGUF is the user's input, and its name reaches the terminal, the tree and the panel.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 119)}…` : clean;
}
