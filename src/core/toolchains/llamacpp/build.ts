import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { HaqaError, type Fix, type HaqaCommand } from '../../errors';
import { toolchainRoot } from '../../paths';
import type { ProcessRunner, RunResult } from '../../process/runner';
import { probeGpus } from '../../hardware';

/** The npm package whose tarball carries llama.cpp's source as a git bundle. Exact pin. */
export const SOURCE_PACKAGE = 'node-llama-cpp@3.21.1';
export const TOOLS = [
  'llama-quantize',
  'llama-bench',
  'llama-perplexity',
  'llama-imatrix',
  'llama-server',
  'llama-fit-params',
  // Not run by a session: it splits and merges models (`…-00001-of-0000N.gguf`), which --model accepts.
  'llama-gguf-split',
] as const;
export const BACKENDS = ['cpu', 'cuda', 'vulkan'] as const;
export type Backend = (typeof BACKENDS)[number];

/** The cmake switch of each backend HAQA builds (the others stay off). */
const BACKEND_FLAGS: Record<Backend, string[]> = {
  cpu: ['-DGGML_CUDA=OFF'],
  cuda: ['-DGGML_CUDA=ON'],
  vulkan: ['-DGGML_CUDA=OFF', '-DGGML_VULKAN=ON'],
};

/** What a backend's configure step needs and how to get it. */
export function configureFix(backend: Backend): string | Fix {
  if (backend === 'cuda')
    return {
      cli: 'install the CUDA toolkit (nvcc) or build with --backend cpu',
      // The extension builds for the GPU whenever nvidia-smi lists one.
      vscode: 'install the CUDA toolkit (nvcc), or point {option} at a CPU build of llama.cpp',
      setting: 'haqa.llamacpp.binDir',
    };
  if (backend === 'vulkan')
    return (
      'install the Vulkan headers, loader and shader compiler (Debian/Ubuntu: apt-get install -y libvulkan-dev glslc spirv-headers; ' +
      'for a software device to try it on, mesa-vulkan-drivers) or build with --backend cpu'
    );
  return 'install cmake and a C++ compiler (apt-get install -y cmake g++)';
}

/** What builds the tools: `haqa toolchain build`, "HAQA: Build Toolchain". */
export const BUILD_COMMAND: HaqaCommand = { cli: 'haqa toolchain build', vscode: 'haqa.buildToolchain' };

export interface BuildManifest {
  commit: string;
  backend: Backend;
  tools: string[];
  binDir: string;
  builtAt: string;
  buildSeconds: number;
  cmakeArgs: string[];
}

export interface BuildOptions {
  backend?: Backend;
  runner: ProcessRunner;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
  /** Where cmake's output goes. */
  logFile?: string;
}

const root = () => toolchainRoot();

export function manifestKey(commit: string, backend: Backend, tools: readonly string[]): string {
  const h = createHash('sha256')
    .update([...tools].sort().join(','))
    .digest('hex')
    .slice(0, 8);
  return `${commit.slice(0, 12)}-${backend}-${h}`;
}

/** The backend a build should use here: CUDA only when nvidia-smi lists a GPU (nvcc alone is not enough). */
export function defaultBackend(): Backend {
  return probeGpus().length > 0 ? 'cuda' : 'cpu';
}

/** The completed build for this backend, if any: a manifest is written only after every binary is in place. */
export function findBuilt(backend: Backend): BuildManifest | undefined {
  const dir = path.join(root(), 'bin');
  if (!fs.existsSync(dir)) return undefined;
  const found: BuildManifest[] = [];
  for (const d of fs.readdirSync(dir)) {
    const mf = path.join(dir, d, 'manifest.json');
    try {
      const m = JSON.parse(fs.readFileSync(mf, 'utf8')) as BuildManifest;
      if (m.backend === backend && TOOLS.every((t) => fs.existsSync(path.join(m.binDir, t)))) found.push(m);
    } catch {
      /* half-finished or foreign: ignored */
    }
  }
  return found.sort((a, b) => b.builtAt.localeCompare(a.builtAt))[0];
}

function check(r: RunResult, what: string, fix: string | Fix): void {
  if (r.cancelled)
    throw new HaqaError(
      `${what} was cancelled`,
      { text: 'run {command} again to finish it', command: BUILD_COMMAND },
      'toolchain',
    );
  if (r.spawnError) throw new HaqaError(`${what} could not start: ${r.spawnError}`, fix, 'toolchain');
  if (r.exitCode !== 0) {
    const tail = r.outputTail.split('\n').slice(-15).join('\n');
    throw new HaqaError(`${what} failed (exit ${r.exitCode ?? r.signal}):\n${tail}`, fix, 'toolchain');
  }
}

/** Makes sure llama.cpp's source is unpacked in the cache (from the npm tarball) and returns its folder and commit. */
export async function ensureSource(
  opts: Pick<BuildOptions, 'runner' | 'onProgress' | 'signal' | 'logFile'>,
): Promise<{ dir: string; commit: string }> {
  const r = root();
  const record = path.join(r, 'source.json');
  try {
    const s = JSON.parse(fs.readFileSync(record, 'utf8')) as { dir: string; commit: string };
    if (fs.existsSync(path.join(s.dir, 'CMakeLists.txt'))) return s;
  } catch {
    /* not yet */
  }
  const run = (argv: string[], cwd?: string) =>
    opts.runner.run(argv, { cwd, signal: opts.signal, logFile: opts.logFile });
  const dl = path.join(r, 'downloads');
  fs.mkdirSync(dl, { recursive: true });
  const tgz = path.join(dl, `${SOURCE_PACKAGE.replace('@', '-')}.tgz`);
  if (!fs.existsSync(tgz)) {
    opts.onProgress?.(`fetching ${SOURCE_PACKAGE} from the npm registry (~35 MB)`);
    check(
      await run(['npm', 'pack', SOURCE_PACKAGE, '--pack-destination', dl]),
      `npm pack ${SOURCE_PACKAGE}`,
      'check that the npm registry is reachable (npm config get registry)',
    );
  }
  const x = fs.mkdtempSync(path.join(dl, 'x-'));
  try {
    check(
      await run(['tar', 'xzf', tgz, '-C', x, 'package/llama/gitRelease.bundle']),
      'unpacking the llama.cpp bundle',
      `delete ${tgz} and try again (it may be damaged)`,
    );
    const bundle = path.join(x, 'package/llama/gitRelease.bundle');
    const tmpSrc = path.join(r, 'src', `.tmp-${process.pid}`);
    fs.rmSync(tmpSrc, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(tmpSrc), { recursive: true });
    opts.onProgress?.('unpacking llama.cpp source');
    check(
      await run(['git', '-c', 'advice.detachedHead=false', 'clone', '-q', bundle, tmpSrc]),
      'git clone of the llama.cpp bundle',
      'install git',
    );
    const head = await opts.runner.run(['git', '-C', tmpSrc, 'rev-parse', 'HEAD']);
    check(head, 'git rev-parse', 'install git');
    const commit = head.stdout.trim();
    const dir = path.join(r, 'src', commit);
    if (fs.existsSync(dir)) fs.rmSync(tmpSrc, { recursive: true, force: true });
    else fs.renameSync(tmpSrc, dir);
    fs.writeFileSync(record, JSON.stringify({ dir, commit }, null, 2));
    return { dir, commit };
  } finally {
    fs.rmSync(x, { recursive: true, force: true });
  }
}

/** What this llama.cpp's Vulkan backend needs of the Vulkan headers beyond the basics (ggml-vulkan.cpp uses it). */
export const VULKAN_HEADER_NEEDS = 'VK_EXT_layer_settings';

/** Where a build looks for the Vulkan headers, in order: $VULKAN_SDK/include, then the system include folders. */
export function vulkanHeaderDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...(env.VULKAN_SDK ? [path.join(env.VULKAN_SDK, 'include')] : []), '/usr/local/include', '/usr/include'];
}

/**
 * The Vulkan headers a build would use: the first of `dirs` holding vulkan/vulkan_core.h, its header version, and
 * whether it defines what this llama.cpp needs. Undefined when none does (CMake's FindVulkan then names what is missing).
 */
export function vulkanHeaders(
  dirs: string[] = vulkanHeaderDirs(),
): { includeDir: string; version?: number; ok: boolean } | undefined {
  const includeDir = dirs.find((d) => fs.existsSync(path.join(d, 'vulkan', 'vulkan_core.h')));
  if (!includeDir) return undefined;
  const text = fs.readFileSync(path.join(includeDir, 'vulkan', 'vulkan_core.h'), 'utf8');
  const version = text.match(/#define VK_HEADER_VERSION (\d+)/)?.[1];
  return { includeDir, version: version ? Number(version) : undefined, ok: text.includes(VULKAN_HEADER_NEEDS) };
}

/**
 * Why the Vulkan headers here cannot build this llama.cpp, or undefined when they can or none is found where looked
 * ($VULKAN_SDK/include, then the system include folders; CMake's FindVulkan may still find others, and names what is
 * missing): found but too old (Debian bookworm's libvulkan-dev 1.3.239 lacks VK_EXT_layer_settings: ggml-vulkan.cpp
 * stops with "'LayerSettingEXT' is not a member of 'vk'", 10 minutes in).
 */
export function vulkanHeaderProblem(
  dirs: string[] = vulkanHeaderDirs(),
  h: ReturnType<typeof vulkanHeaders> = vulkanHeaders(dirs),
): string | undefined {
  if (!h || h.ok) return undefined;
  return (
    `the Vulkan headers in ${h.includeDir}${h.version !== undefined ? ` (header version ${h.version})` : ''} are ` +
    `too old for this llama.cpp: they lack ${VULKAN_HEADER_NEEDS}`
  );
}

/** What gets newer Vulkan headers for a build where the system's are too old (VULKAN_SDK picks them). */
export const VULKAN_HEADERS_FIX =
  'point VULKAN_SDK at newer Vulkan headers (the folder above their include/) and build again: on Debian 12, ' +
  "Debian 13's libvulkan-dev unpacked without installing it (`apt-get download libvulkan-dev/trixie`, " +
  '`dpkg-deb -x libvulkan-dev_*.deb DIR`, then `VULKAN_SDK=DIR/usr haqa toolchain build --backend vulkan`; ' +
  "HAQA's scripts/vulkan-headers-debian.sh DIR does the first two without touching the apt sources), or the LunarG " +
  'Vulkan SDK; or build with --backend cpu';

function cudaArch(): string | undefined {
  const cc = probeGpus()[0]?.computeCapability;
  return cc ? cc.replace('.', '') : undefined;
}

/**
 * Builds llama-quantize, -bench, -perplexity, -imatrix and -server from the bundled source into the cache.
 * Idempotent: a finished build (manifest present) returns at once; a half-finished one resumes (cmake is
 * incremental) and is only recorded once every binary is in place.
 */
export async function buildToolchain(opts: BuildOptions): Promise<BuildManifest> {
  const backend = opts.backend ?? defaultBackend();
  const done = findBuilt(backend);
  if (done) return done;
  for (const tool of ['cmake', 'git', 'tar']) {
    const r = await opts.runner.run([tool, '--version']);
    if (r.spawnError || r.exitCode !== 0) {
      throw new HaqaError(
        `${tool} is not installed; it is needed to build llama.cpp`,
        `install it (Debian/Ubuntu: apt-get install -y cmake g++ git)`,
        'toolchain',
      );
    }
  }
  // The Vulkan headers checked here are the ones CMake is given (FindVulkan would otherwise keep what it cached).
  const headers = backend === 'vulkan' ? vulkanHeaders() : undefined;
  if (headers && !headers.ok)
    throw new HaqaError(
      `cannot build the Vulkan backend: ${vulkanHeaderProblem(undefined, headers)}`,
      VULKAN_HEADERS_FIX,
      'toolchain',
    );
  const started = Date.now();
  const src = await ensureSource(opts);
  const buildDir = path.join(root(), 'build', `${src.commit}-${backend}`);
  const cmakeArgs = [
    '-DCMAKE_BUILD_TYPE=Release',
    '-DLLAMA_CURL=OFF',
    '-DLLAMA_BUILD_TESTS=OFF',
    '-DBUILD_SHARED_LIBS=OFF',
    ...BACKEND_FLAGS[backend],
  ];
  if (headers) cmakeArgs.push(`-DVulkan_INCLUDE_DIR=${headers.includeDir}`);
  if (backend === 'cuda') {
    const a = cudaArch();
    if (a) cmakeArgs.push(`-DCMAKE_CUDA_ARCHITECTURES=${a}`);
  }
  opts.onProgress?.(`configuring llama.cpp ${src.commit.slice(0, 7)} (${backend})`);
  const run = (argv: string[], onData?: (d: string) => void) =>
    opts.runner.run(argv, { signal: opts.signal, logFile: opts.logFile, onData });
  check(await run(['cmake', '-S', src.dir, '-B', buildDir, ...cmakeArgs]), 'cmake configure', configureFix(backend));
  let last = -1;
  const jobs = String(os.availableParallelism?.() ?? os.cpus().length);
  check(
    await run(['cmake', '--build', buildDir, '-j', jobs, '--target', ...TOOLS], (d) => {
      let pct = -1;
      for (const x of d.matchAll(/\[\s*(\d+)%\]/g)) pct = Number(x[1]);
      // cmake restarts its percentage per target: report only forward steps of 5 % or more.
      if (pct >= last + 5 || (pct === 100 && last < 100)) {
        last = pct;
        opts.onProgress?.(`building llama.cpp: ${pct}%`);
      }
    }),
    'building llama.cpp',
    'see the build log; on low memory try again (the build resumes where it stopped)',
  );

  const key = manifestKey(src.commit, backend, TOOLS);
  const binDir = path.join(root(), 'bin', key);
  fs.mkdirSync(binDir, { recursive: true });
  for (const t of TOOLS) {
    const from = path.join(buildDir, 'bin', t);
    if (!fs.existsSync(from))
      throw new HaqaError(
        `the build finished but ${from} is missing`,
        'delete the build folder and build again',
        'toolchain',
      );
    fs.copyFileSync(from, path.join(binDir, `${t}.tmp`));
    fs.chmodSync(path.join(binDir, `${t}.tmp`), 0o755);
    fs.renameSync(path.join(binDir, `${t}.tmp`), path.join(binDir, t));
  }
  const manifest: BuildManifest = {
    commit: src.commit,
    backend,
    tools: [...TOOLS],
    binDir,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((Date.now() - started) / 1000),
    cmakeArgs,
  };
  fs.writeFileSync(path.join(binDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}
