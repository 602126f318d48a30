import * as fs from 'node:fs';
import * as path from 'node:path';
import { HaqaError } from '../../errors';
import type { ProcessRunner } from '../../process/runner';
import { toolchainRoot } from '../../paths';
import { BUILD_COMMAND, buildToolchain, defaultBackend, findBuilt, type Backend } from './build';

export interface LlamaTools {
  quantize: string;
  bench: string;
  perplexity?: string;
  imatrix?: string;
  server?: string;
  /** llama.cpp's memory projection (HAQA's builds have it; a foreign build may not, and then trials are not checked). */
  fitParams?: string;
  /** Splits and merges models (not run by a session; a split model is accepted as --model). */
  ggufSplit?: string;
  /** Where they were found, in the lookup order. */
  source: 'explicit' | 'env' | 'path' | 'cache';
  binDir: string;
  commit?: string;
  /**
   * The backend of the build's devices: cpu (none), cuda, rocm, musa, vulkan, metal, sycl, … — read from the build
   * itself (`llama-bench --list-devices`), not from nvidia-smi.
   */
  backend?: string;
  /** The devices the build can use besides the CPU, with their memory (probed each session: free memory changes). */
  devices?: BuildDevice[];
}

/** One device as `llama-bench --list-devices` lists it: `  CUDA0: NVIDIA H200 (143156 MiB, 142034 MiB free)`. */
export interface BuildDevice {
  /** llama.cpp's name for it (CUDA0, Vulkan1, MTL0, ROCm0 …): what `-dev`, `-ot …=NAME` and `-ts` refer to. */
  name: string;
  description: string;
  totalMiB: number;
  freeMiB: number;
  backend: string;
}

/** llama.cpp's device name prefixes and the backend each belongs to; another prefix is taken lower-cased. */
const PREFIXES: [RegExp, string][] = [
  [/^CUDA/, 'cuda'],
  [/^ROCm|^HIP/, 'rocm'],
  [/^MUSA/, 'musa'],
  [/^Vulkan/, 'vulkan'],
  [/^MTL|^Metal/, 'metal'],
  [/^SYCL/, 'sycl'],
  [/^CANN/, 'cann'],
  [/^GPUOpenCL|^OpenCL/, 'opencl'],
];

/** The backend of a llama.cpp device or backend name (CUDA0, ROCm, Vulkan1, MTL0, Metal …): cuda, rocm, vulkan, metal …. */
export function backendOf(name: string): string {
  const prefix = name.replace(/\d+$/, '');
  return PREFIXES.find(([re]) => re.test(prefix))?.[1] ?? prefix.toLowerCase();
}

/**
 * The devices in `llama-bench --list-devices` output. Host-side accelerators without memory of their own (BLAS,
 * listed as `BLAS: Accelerate (0 MiB, 0 MiB free)`) are not devices a layer can be offloaded to, so they are left out.
 * A device's name usually ends in its ordinal (`CUDA0`, `Vulkan1`, `MTL0` at 80fb11a); a Metal build of late 2025, from
 * before llama.cpp numbered Metal devices, lists its one GPU as `Metal: Apple M4 Max (98304 MiB, 98303 MiB free)`, and
 * `Metal` is then its name.
 */
export function parseDevices(text: string): BuildDevice[] {
  const out: BuildDevice[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = line.match(/^\s+([A-Za-z][\w-]*): (.*) \((\d+) MiB, (\d+) MiB free\)\s*$/);
    if (!m) continue;
    const [, name, description, total, free] = m;
    if (/^BLAS\d*$/i.test(name) || Number(total) === 0) continue;
    out.push({ name, description, totalMiB: Number(total), freeMiB: Number(free), backend: backendOf(name) });
  }
  return out;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function fromDir(dir: string, source: LlamaTools['source']): LlamaTools | undefined {
  const at = (n: string) => (isExecutable(path.join(dir, n)) ? path.join(dir, n) : undefined);
  const quantize = at('llama-quantize');
  const bench = at('llama-bench');
  if (!quantize || !bench) return undefined;
  return {
    quantize,
    bench,
    perplexity: at('llama-perplexity'),
    imatrix: at('llama-imatrix'),
    server: at('llama-server'),
    fitParams: at('llama-fit-params'),
    ggufSplit: at('llama-gguf-split'),
    source,
    binDir: dir,
  };
}

function onPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    if (d && isExecutable(path.join(d, name))) return path.join(d, name);
  }
  return undefined;
}

/**
 * Finds llama.cpp's tools: an explicit folder (CLI flag / setting), then $HAQA_LLAMACPP_BIN, then PATH, then the
 * HAQA cache. An explicit folder that lacks the tools is an error, not a silent fall-through.
 */
export function locateTools(opts: { binDir?: string; backend?: Backend } = {}): LlamaTools | undefined {
  for (const [dir, source] of [
    [opts.binDir, 'explicit'],
    [process.env.HAQA_LLAMACPP_BIN, 'env'],
  ] as const) {
    if (!dir) continue;
    const t = fromDir(path.resolve(dir), source);
    if (!t) {
      throw new HaqaError(
        `${dir} (${source === 'env' ? '$HAQA_LLAMACPP_BIN' : '--llamacpp-bin'}) has no llama-quantize and llama-bench`,
        source === 'env'
          ? 'point it at the folder holding the llama.cpp binaries, or unset it so HAQA builds its own'
          : {
              cli: 'point it at the folder holding the llama.cpp binaries, or unset it so HAQA builds its own',
              vscode: 'point {option} at the folder holding the llama.cpp binaries, or clear it so HAQA builds its own',
              setting: 'haqa.llamacpp.binDir',
            },
        'toolchain',
      );
    }
    return t;
  }
  const q = onPath('llama-quantize');
  const b = onPath('llama-bench');
  if (q && b && path.dirname(q) === path.dirname(b)) return fromDir(path.dirname(q), 'path');
  const built = findBuilt(opts.backend ?? defaultBackend());
  if (built) {
    const t = fromDir(built.binDir, 'cache');
    if (t) return { ...t, commit: built.commit, backend: built.backend };
  }
  return undefined;
}

/**
 * Build commit, backend and devices of the tools: the commit from `--version` of a tool that has it ("version: 0.4.0-dev
 * (build 1, commit 80fb11a)"; llama-bench has none), the devices and so the backend from `llama-bench --list-devices`
 * (a build that lists none runs on the CPU, whatever GPUs the machine has).
 */
export async function toolInfo(
  runner: ProcessRunner,
  t: LlamaTools,
  o: { commit?: boolean } = {},
): Promise<{ commit?: string; backend?: string; devices?: BuildDevice[] }> {
  let commit: string | undefined;
  for (const bin of o.commit === false ? [] : [t.perplexity, t.server, t.imatrix]) {
    if (!bin) continue;
    const r = await runner.run([bin, '--version'], { timeoutMs: 20000 });
    const m = (r.outputTail + r.stdout).match(/commit ([0-9a-f]{7,40})|version:\s*\d+\s*\(([0-9a-f]{7,40})\)/);
    if (m) {
      commit = m[1] ?? m[2];
      break;
    }
  }
  const d = await runner.run([t.bench, '--list-devices'], { timeoutMs: 20000 });
  if (d.exitCode !== 0) return { commit };
  const devices = parseDevices(d.stdout || d.outputTail);
  return { commit, backend: devices[0]?.backend ?? 'cpu', devices };
}

/**
 * `t` with commit, backend and devices filled in. The devices are always listed (their free memory changes); the
 * commit is asked only when the cache manifest did not say. A backend the build's devices contradict (a CUDA build on
 * a machine whose driver it cannot use lists no device) is corrected to what the build can use now.
 */
export async function withToolInfo(runner: ProcessRunner, t: LlamaTools): Promise<LlamaTools> {
  const info = await toolInfo(runner, t, { commit: !t.commit });
  // Undefined devices: the build could not list them (an old build, a driver error), which is not "none".
  return { ...t, commit: t.commit ?? info.commit, backend: info.backend ?? t.backend, devices: info.devices };
}

/** Locates the tools, building them into the cache on first need. */
export async function ensureTools(opts: {
  binDir?: string;
  backend?: Backend;
  runner: ProcessRunner;
  onProgress?: (m: string) => void;
  signal?: AbortSignal;
  logFile?: string;
}): Promise<LlamaTools> {
  const found = locateTools(opts);
  if (found) return found;
  opts.onProgress?.('llama.cpp tools not found: building them once into the HAQA cache (about 8 minutes on 2 cores)');
  const m = await buildToolchain({ ...opts, backend: opts.backend ?? defaultBackend() });
  const t = fromDir(m.binDir, 'cache');
  if (!t)
    throw new HaqaError(
      `the build in ${m.binDir} has no llama-quantize/llama-bench`,
      {
        cli: 'run `haqa clean --toolchain` and build again',
        vscode: `delete ${toolchainRoot()} and run {command} again`,
        command: { vscode: BUILD_COMMAND.vscode },
      },
      'toolchain',
    );
  return { ...t, commit: m.commit, backend: m.backend };
}
