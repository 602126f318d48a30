/**
 * Memory truth from llama.cpp before a trial runs: `llama-fit-params -fitp on` projects, for a model file and the exact
 * runtime flags a trial would use at the served context, the MiB each device and the host would hold (model, context =
 * KV cache, compute buffers) — from the file's metadata, in a fraction of a second, without loading weights. A trial
 * whose projection does not fit a device's free memory, the per-device budget (--max-vram-mb) or the memory budget
 * (--max-mem-mb) is never run: it is recorded as over a limit with the projection as its reason.
 */
import type { ObjectiveSpec } from '../../objective';
import { projectedBytes, type Config, type GpuInfo, type MemoryProjection } from '../../types';
import { runtimeArgs } from './bench';
import { ALL_LAYERS } from '../../knobs';

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

export { projectedBytes };

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
  return [...deviceProblems(p, o), ...hostProblems(p, o)];
}

/** The GPUs' part of fitProblems: what llama.cpp's fit can answer by placing less on them. */
export function deviceProblems(p: MemoryProjection, o: { objective: ObjectiveSpec; gpus: GpuInfo[] }): string[] {
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
  return out;
}

function hostProblems(p: MemoryProjection, o: { objective: ObjectiveSpec; hostBytes: number }): string[] {
  const out: string[] = [];
  const at = `at context ${p.context}`;
  const host = projectedBytes(p.host);
  if (host > o.hostBytes) out.push(`projected host memory ${parts(p.host)} ${at} > this machine's ${mib(o.hostBytes)}`);
  const all = host + p.devices.reduce((a, d) => a + projectedBytes(d), 0);
  if (o.objective.maxMemBytes !== undefined && all > o.objective.maxMemBytes)
    out.push(`projected memory ${mib(all)} ${at} (host ${parts(p.host)}) > max ${mib(o.objective.maxMemBytes)}`);
  return out;
}

/**
 * llama.cpp's own answer to "what fits": `llama-fit-params` without -fitp prints the arguments llama.cpp's `--fit`
 * (on by default in llama-server) would add for a model file, context and runtime flags: the GPU layer count, a
 * tensor split over several GPUs, and tensor overrides that keep the experts (or part of the FFN) of some layers in
 * host memory. HAQA asks it for the boundary when a configuration does not fit, and measures its choice as the
 * reference a session's verdict is compared with.
 */
export interface FitChoice {
  context: number;
  /** llama.cpp's -ngl: layers from the back, the output layer counting as one (layers + 1 = all). */
  ngl: number;
  tensorSplit?: number[];
  /** Tensor-name regex → buffer type (CPU, or a device's buffer), in the order llama.cpp printed them. */
  overrides: { pattern: string; buft: string }[];
}

/**
 * The llama-fit-params argv that asks for llama.cpp's fit of `config` at `context` with a margin per device (MiB): the
 * trial's runtime flags without -ngl/-ncmoe, which are what llama.cpp chooses (it refuses to fit when they are set).
 */
export function fitChoiceArgs(
  bin: string,
  modelFile: string,
  config: Config,
  context: number,
  marginsMiB: number[],
): string[] {
  return [
    bin,
    '-m',
    modelFile,
    '-c',
    String(context),
    ...runtimeArgs(config, { placement: false }),
    ...(marginsMiB.length ? ['-fitt', marginsMiB.map((m) => String(Math.max(0, Math.ceil(m)))).join(',')] : []),
    '-fitc',
    String(context),
  ];
}

/**
 * The margin llama.cpp's fit must leave on each device so that what it places stays within HAQA's rule (fitProblems):
 * the driver's overhead, plus what lies above the per-GPU limit on a card larger than the one deployed to. One per GPU
 * in `gpus`' order, which is `-fitt`'s: a session's GPUs are the build's devices as `--list-devices` lists them
 * (buildGpus), the order llama.cpp numbers them in.
 */
export function fitMarginsMiB(gpus: GpuInfo[], maxVramBytes?: number): number[] {
  return gpus.map((g) => {
    const free = g.freeBytes ?? g.vramBytes;
    const above = maxVramBytes !== undefined ? Math.max(0, free - maxVramBytes) : 0;
    return Math.ceil((DEVICE_OVERHEAD_BYTES + above) / MiB);
  });
}

/** A tensor pattern llama.cpp's fit writes: one layer's FFN tensors, by a fixed shape (never anything else). */
const FIT_PATTERN = /^blk\\\.(\d{1,4})\\\.ffn_[a-z_|()]+(\.\*)?$/;
const BUFT = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

/**
 * The one line `llama-fit-params` prints on stdout: `-c N -ngl N [-ts A,B,…] [-ot "PATTERN=BUFT,…"]`. Undefined for
 * anything else, and for any override outside the shapes llama.cpp writes: what comes back becomes process arguments.
 */
export function parseFitChoice(text: string): FitChoice | undefined {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith('-c '));
  const m = line?.match(/^-c (\d+) -ngl (-?\d+)(?: -ts ([\d,]+))?(?: -ot "([^"]*)")?$/);
  if (!m) return undefined;
  const overrides: FitChoice['overrides'] = [];
  for (const part of m[4] ? m[4].split(',') : []) {
    const eq = part.lastIndexOf('=');
    const pattern = part.slice(0, eq);
    const buft = part.slice(eq + 1);
    if (eq < 0 || !FIT_PATTERN.test(pattern) || !BUFT.test(buft)) return undefined;
    overrides.push({ pattern, buft });
  }
  return {
    context: Number(m[1]),
    ngl: Number(m[2]),
    ...(m[3] ? { tensorSplit: m[3].split(',').map(Number) } : {}),
    overrides,
  };
}

/** The choice as llama-server / llama-cli arguments (`-ot` takes a comma-separated list there). */
export function fitChoiceFlags(c: FitChoice): string[] {
  return [
    '-ngl',
    String(c.ngl),
    ...(c.tensorSplit ? ['-ts', c.tensorSplit.join(',')] : []),
    ...(c.overrides.length ? ['-ot', c.overrides.map((o) => `${o.pattern}=${o.buft}`).join(',')] : []),
  ];
}

/** Layers (below the output layer) whose tensors llama.cpp's fit keeps in host memory. */
function layersOnCpu(c: FitChoice, layers: number): Set<number> {
  // llama.cpp numbers the output layer L and writes patterns for it too (`blk\.L\.…`), which match no tensor.
  return new Set(
    c.overrides
      .filter((o) => o.buft === 'CPU')
      .map((o) => Number(o.pattern.match(FIT_PATTERN)?.[1]))
      .filter((il) => il < layers),
  );
}

/**
 * True when the choice keeps every layer on the GPU(s) and nothing in host memory: nothing for llama.cpp's fit to
 * place (a split between several GPUs, -ts, is still the whole model on GPUs).
 */
export const fitsWhole = (c: FitChoice, layers: number) =>
  (c.ngl < 0 || c.ngl >= layers + 1) && layersOnCpu(c, layers).size === 0;

/**
 * The choice in HAQA's knobs. gpu_layers is its -ngl. For an MoE, n_cpu_moe covers the layers wholly on the CPU (or
 * the leading dense layers, which have no experts) plus one per offloaded layer whose experts (or FFN) llama.cpp keeps
 * in host memory: -ncmoe keeps the first layers' experts on the CPU where llama.cpp's fit keeps the last ones', the
 * same amount of expert weights and work (a layer it splits goes whole, with its shared expert). llama.cpp's fit
 * writes overrides only for an MoE; for a dense model a split layer would go to the CPU whole (-ngl one lower).
 */
export function fitChoiceKnobs(
  c: FitChoice,
  model: { layers: number; expertCount?: number; leadingDenseLayers?: number },
): { gpu_layers: number; n_cpu_moe?: number } {
  const L = model.layers;
  const onCpu = layersOnCpu(c, L).size;
  // -1 is llama.cpp's default (every layer): its fit printed it back unchanged, as when it had nothing to place.
  const ngl = c.ngl < 0 ? L + 1 : Math.min(c.ngl, L + 1);
  const gpuLayers = (n: number) => (n >= L + 1 ? ALL_LAYERS : Math.max(0, n));
  if (model.expertCount) {
    // -ncmoe k reaches the experts of layers 0..k-1: past those on the CPU already and the leading dense ones.
    const skipped = Math.max(L + 1 - ngl, model.leadingDenseLayers ?? 0, 0);
    return { gpu_layers: gpuLayers(ngl), n_cpu_moe: onCpu ? Math.min(L, skipped + onCpu) : 0 };
  }
  return { gpu_layers: gpuLayers(ngl - onCpu) };
}
