/**
 * Memory truth from llama.cpp before a trial runs: `llama-fit-params -fitp on` projects, for a model file and the exact
 * runtime flags a trial would use at the served context, the MiB each device and the host would hold (model, context =
 * KV cache, compute buffers) — from the file's metadata, in a fraction of a second, without loading weights. A trial
 * whose projection does not fit a device's free memory, the per-device budget (--max-vram-mb) or the memory budget
 * (--max-mem-mb) is never run: it is recorded as over a limit with the projection as its reason.
 */
import type { ObjectiveSpec } from '../../objective';
import type { Config, GpuInfo, MemoryProjection } from '../../types';
import { runtimeArgs } from './bench';

const MiB = 2 ** 20;

/**
 * What a GPU holds beyond llama.cpp's projection: the driver's context and its buffers. Measured 162 MiB above the
 * projection in every trial on an NVIDIA H200 (CUDA 13, bench/results/issue13-h200.md); rounded up for other cards.
 */
export const DEVICE_OVERHEAD_BYTES = 256 * MiB;

/** The llama-fit-params argv that projects the memory of `config` at `context` tokens (values from a validated config). */
export function fitArgs(bin: string, modelFile: string, config: Config, context: number): string[] {
  return [bin, '-m', modelFile, '-c', String(context), ...runtimeArgs(config), '-fitp', 'on'];
}

/**
 * `llama-fit-params -fitp on` stdout: one `<device> <model> <context> <compute>` line (MiB) per device, then `Host …`.
 * Undefined when there is no Host line (an older build, or one that failed).
 */
export function parseFitPrint(text: string, context: number): MemoryProjection | undefined {
  const devices: MemoryProjection['devices'] = [];
  let host: MemoryProjection['host'] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = line.trim().match(/^(\S+) (\d+) (\d+) (\d+)$/);
    if (!m) continue;
    const part = { modelBytes: Number(m[2]) * MiB, contextBytes: Number(m[3]) * MiB, computeBytes: Number(m[4]) * MiB };
    if (m[1] === 'Host') host = part;
    else devices.push({ name: m[1], ...part });
  }
  return host ? { context, host, devices } : undefined;
}

/** A projection's total bytes on one device or the host. */
export const projectedBytes = (p: { modelBytes: number; contextBytes: number; computeBytes: number }) =>
  p.modelBytes + p.contextBytes + p.computeBytes;

const mib = (b: number) => `${Math.round(b / MiB)} MiB`;
const parts = (p: { modelBytes: number; contextBytes: number; computeBytes: number }) =>
  `${mib(projectedBytes(p))} (model ${mib(p.modelBytes)} + KV cache ${mib(p.contextBytes)} + compute ${mib(p.computeBytes)})`;

/**
 * Why a projected configuration cannot run within the machine and the user's limits, or [] when it fits: each device
 * against its free memory and --max-vram-mb, the host against the machine's memory, and all of it against --max-mem-mb
 * (which counts host and device memory together, as the measured peak does).
 */
export function fitProblems(
  p: MemoryProjection,
  o: { objective: ObjectiveSpec; gpus: GpuInfo[]; hostBytes: number },
): string[] {
  const out: string[] = [];
  const at = `at context ${p.context}`;
  const overhead = `+ ${mib(DEVICE_OVERHEAD_BYTES)} for the driver`;
  for (const d of p.devices) {
    const gpu = o.gpus.find((g) => g.device === d.name);
    const need = projectedBytes(d) + DEVICE_OVERHEAD_BYTES;
    if (gpu?.freeBytes !== undefined && need > gpu.freeBytes)
      out.push(`projected ${d.name} ${parts(d)} ${overhead} ${at} > its free ${mib(gpu.freeBytes)}`);
    if (o.objective.maxVramBytes !== undefined && need > o.objective.maxVramBytes)
      out.push(`projected ${d.name} ${parts(d)} ${overhead} ${at} > max ${mib(o.objective.maxVramBytes)} per GPU`);
  }
  const host = projectedBytes(p.host);
  if (host > o.hostBytes) out.push(`projected host memory ${parts(p.host)} ${at} > this machine's ${mib(o.hostBytes)}`);
  const all = host + p.devices.reduce((a, d) => a + projectedBytes(d), 0);
  if (o.objective.maxMemBytes !== undefined && all > o.objective.maxMemBytes)
    out.push(`projected memory ${mib(all)} ${at} (host ${parts(p.host)}) > max ${mib(o.objective.maxMemBytes)}`);
  return out;
}
