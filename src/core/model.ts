import * as fs from 'node:fs';
import * as path from 'node:path';
import { gguf, ggufAllShards, parseGgufShardFilename } from '@huggingface/gguf';
import { HaqaError, errorMessage, type HaqaCommand } from './errors';
import { FILE_TYPES, GGML_TYPES, tensorBytes } from './ggml';
import { checkModelFile, modelFileError } from './modelFile';
import type { ModelInfo } from './types';

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
  fs.closeSync(fd);
  // The first bytes: a GGUF's magic, or a Git LFS pointer (a clone without `git lfs pull`), refused with its fix.
  const check = checkModelFile(abs);
  if (check.kind === 'lfs-pointer') throw modelFileError(check);
  if (check.kind !== 'gguf') throw notGguf(abs, check.reason ?? 'the file does not start with the GGUF magic bytes');

  // A split model (`…-00001-of-00003.gguf`): every shard is read, checked and counted; its first file is the model.
  const shards = shardFiles(abs);
  let parts;
  try {
    parts =
      shards.length > 1
        ? (await ggufAllShards(abs, { allowLocalFile: true })).shards
        : [await gguf(abs, { allowLocalFile: true, computeParametersCount: true })];
  } catch (e) {
    throw notGguf(abs, `its header cannot be parsed (${errorMessage(e)}); the file is probably truncated or corrupt`);
  }
  const parsed = parts[0];
  const md = parsed.metadata as unknown as Record<string, unknown>;
  const arch = String(md['general.architecture'] ?? '');
  if (!arch) throw notGguf(abs, 'general.architecture is missing from its metadata');
  const num = (k: string): number => {
    const v = md[`${arch}.${k}`];
    return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
  };

  // Truncation check: every tensor's data must lie inside its file.
  const rowSizes = new Set<number>();
  let parameterCount = 0;
  let sizeBytes = 0;
  const tensorInfos = parts.flatMap((p) => p.tensorInfos);
  parts.forEach((p, i) => {
    const file = shards[i] ?? abs;
    const size = i === 0 ? st.size : fs.statSync(file).size;
    sizeBytes += size;
    let end = 0;
    for (const t of p.tensorInfos) {
      const shape = t.shape.map(Number);
      const elements = shape.reduce((a, b) => a * b, 1);
      parameterCount += elements;
      const bytes = tensorBytes(t.dtype, elements);
      if (bytes !== undefined) end = Math.max(end, Number(p.tensorDataOffset) + Number(t.offset) + bytes);
      if (shape.length >= 2 && /weight$/.test(t.name) && !/norm/.test(t.name)) rowSizes.add(shape[0]);
    }
    if (end > size) throw notGguf(file, `it is truncated: its tensors need ${end} bytes but the file has ${size}`);
  });

  const ftypeId = md['general.file_type'];
  let fileType = typeof ftypeId === 'number' ? FILE_TYPES[ftypeId] : undefined;
  if (!fileType) {
    // Old files without general.file_type: name it after the most common tensor type.
    const counts = new Map<number, number>();
    for (const t of tensorInfos) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    fileType = top ? (GGML_TYPES[top[0]]?.[0] ?? 'unknown') : 'unknown';
  }
  const tokens = md['tokenizer.ggml.tokens'];
  return {
    path: abs,
    name: printable(String(md['general.name'] ?? path.basename(abs, '.gguf'))),
    arch,
    parameterCount,
    layers: num('block_count'),
    embeddingLength: num('embedding_length'),
    feedForwardLength: num('feed_forward_length'),
    headCount: num('attention.head_count'),
    headCountKv: num('attention.head_count_kv') || num('attention.head_count'),
    vocabSize: Array.isArray(tokens) ? tokens.length : num('vocab_size'),
    contextLength: num('context_length'),
    ...(num('expert_count') > 0
      ? {
          expertCount: num('expert_count'),
          expertUsedCount: num('expert_used_count'),
          ...(num('leading_dense_block_count') > 0 ? { leadingDenseLayers: num('leading_dense_block_count') } : {}),
        }
      : {}),
    fileType,
    sizeBytes,
    ...(shards.length > 1 ? { shards } : {}),
    rowSizes: [...rowSizes].sort((a, b) => a - b),
  };
}

/**
 * The files of a split model named like llama.cpp's gguf-split writes them (`name-00001-of-00003.gguf`), in order,
 * starting from the first one; [file] for a whole model. A split model must be given by its first file, and every
 * shard must be there: both are refused with the fix otherwise.
 */
export function shardFiles(file: string): string[] {
  const info = parseGgufShardFilename(file);
  if (!info) return [file];
  const total = Number(info.total);
  const files = Array.from(
    { length: total },
    (_, i) => `${info.prefix}-${String(i + 1).padStart(5, '0')}-of-${info.total.padStart(5, '0')}.gguf`,
  );
  if (Number(info.shard) !== 1)
    throw new HaqaError(
      `${file} is shard ${Number(info.shard)} of a model split in ${total}`,
      { cli: `pass its first file to --model: ${files[0]}`, vscode: `pick its first file: ${files[0]}` },
      'input',
    );
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length)
    throw new HaqaError(
      `${file} is split in ${total} files and ${missing.length} of them are missing (${missing.map((f) => path.basename(f)).join(', ')})`,
      'download or copy every shard into the same folder',
      'input',
    );
  return files;
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
