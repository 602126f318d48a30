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
  /** Where they were found, in the lookup order. */
  source: 'explicit' | 'env' | 'path' | 'cache';
  binDir: string;
  commit?: string;
  /** cpu | cuda for HAQA's builds; a foreign build may also report vulkan or metal. */
  backend?: string;
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
 * Build commit and backend of tools HAQA did not build: the commit from `--version` of a tool that has it
 * ("version: 0.4.0-dev (build 1, commit 80fb11a)"; llama-bench has none), the backend from
 * `llama-bench --list-devices`.
 */
export async function toolInfo(runner: ProcessRunner, t: LlamaTools): Promise<{ commit?: string; backend?: string }> {
  let commit: string | undefined;
  for (const bin of [t.perplexity, t.server, t.imatrix]) {
    if (!bin) continue;
    const r = await runner.run([bin, '--version'], { timeoutMs: 20000 });
    const m = (r.outputTail + r.stdout).match(/commit ([0-9a-f]{7,40})|version:\s*\d+\s*\(([0-9a-f]{7,40})\)/);
    if (m) {
      commit = m[1] ?? m[2];
      break;
    }
  }
  const d = await runner.run([t.bench, '--list-devices'], { timeoutMs: 20000 });
  const out = d.outputTail + d.stdout;
  const backend = /CUDA/.test(out)
    ? 'cuda'
    : /Vulkan/i.test(out)
      ? 'vulkan'
      : /Metal|MTL/.test(out)
        ? 'metal'
        : d.exitCode === 0
          ? 'cpu'
          : undefined;
  return { commit, backend };
}

/** `t` with commit and backend filled in, probing the binaries only when the cache manifest did not say. */
export async function withToolInfo(runner: ProcessRunner, t: LlamaTools): Promise<LlamaTools> {
  if (t.commit && t.backend) return t;
  const info = await toolInfo(runner, t);
  return { ...t, commit: t.commit ?? info.commit, backend: t.backend ?? info.backend };
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
