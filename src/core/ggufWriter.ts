import * as fs from 'node:fs';
import { serializeGgufMetadata, GGUFValueType, type GGUFTypedMetadata } from '@huggingface/gguf';

/** A tensor to write: name, shape (ne[0] first, as GGUF stores it), ggml type and a filler for its bytes. */
export interface TensorSpec {
  name: string;
  shape: number[];
  /** 0 = F32, 1 = F16. */
  dtype: 0 | 1;
  fill: (buf: Buffer) => void;
}

const ALIGN = 32;
const pad = (n: number) => (n + ALIGN - 1) & ~(ALIGN - 1);

/**
 * Writes a GGUF v3 file: the metadata through @huggingface/gguf's serializer (alignment 1, so no padding lands
 * between it and the tensor infos), then tensor infos, padding, and tensor data.
 */
export function writeGguf(
  file: string,
  kv: Record<string, { value: unknown; type: GGUFValueType; subType?: GGUFValueType }>,
  tensors: TensorSpec[],
): void {
  const typed = {
    version: { value: 3, type: GGUFValueType.UINT32 },
    tensor_count: { value: BigInt(tensors.length), type: GGUFValueType.UINT64 },
    kv_count: { value: BigInt(Object.keys(kv).length), type: GGUFValueType.UINT64 },
    ...kv,
  } as unknown as GGUFTypedMetadata;
  const header = Buffer.from(serializeGgufMetadata(typed, { alignment: 1 }));

  const infos: Buffer[] = [];
  let offset = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const name = Buffer.from(t.name, 'utf8');
    const b = Buffer.alloc(8 + name.length + 4 + 8 * t.shape.length + 4 + 8);
    let o = 0;
    b.writeBigUInt64LE(BigInt(name.length), o);
    o += 8;
    name.copy(b, o);
    o += name.length;
    b.writeUInt32LE(t.shape.length, o);
    o += 4;
    for (const d of t.shape) {
      b.writeBigUInt64LE(BigInt(d), o);
      o += 8;
    }
    b.writeUInt32LE(t.dtype, o);
    o += 4;
    b.writeBigUInt64LE(BigInt(offset), o);
    infos.push(b);
    const size = t.shape.reduce((a, c) => a * c, 1) * (t.dtype === 0 ? 4 : 2);
    sizes.push(size);
    offset = pad(offset + size);
  }
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    let pos = 0;
    const write = (buf: Buffer) => {
      fs.writeSync(fd, buf);
      pos += buf.length;
    };
    write(header);
    for (const b of infos) write(b);
    write(Buffer.alloc(pad(pos) - pos));
    tensors.forEach((t, i) => {
      const buf = Buffer.alloc(sizes[i]);
      t.fill(buf);
      write(buf);
      write(Buffer.alloc(pad(sizes[i]) - sizes[i]));
    });
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
