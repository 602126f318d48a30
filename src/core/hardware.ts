import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawnSync } from 'node:child_process';
import type { GpuInfo, HardwareProfile } from './types';
import { childEnv } from './secrets';

const INTERESTING_FLAGS = [
  'avx',
  'avx2',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx512_bf16',
  'avxvnni',
  'fma',
  'f16c',
  'sse3',
  'ssse3',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
  'neon',
  'asimd',
  'asimddp',
  'sve',
  'i8mm',
  'dotprod',
];

/** Parses /proc/cpuinfo text into model, physical cores and the flags that matter for llama.cpp kernels. */
export function parseCpuInfo(text: string): { model?: string; cores?: number; flags: string[] } {
  let model: string | undefined;
  const flags = new Set<string>();
  const physical = new Set<string>();
  let physId = '0';
  for (const line of text.split('\n')) {
    const m = line.match(/^([^:]+?)\s*:\s*(.*)$/);
    if (!m) continue;
    const [, k, v] = m;
    if ((k === 'model name' || k === 'Model' || k === 'Hardware') && !model) {
      model = v.trim();
    } else if (k === 'flags' || k === 'Features') {
      for (const f of v.split(/\s+/)) if (INTERESTING_FLAGS.includes(f)) flags.add(f);
    } else if (k === 'physical id') {
      physId = v.trim();
    } else if (k === 'core id') {
      physical.add(`${physId}:${v.trim()}`);
    }
  }
  return { model, cores: physical.size || undefined, flags: [...flags].sort() };
}

/** Parses `nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv` output. */
export function parseNvidiaSmiCsv(text: string): GpuInfo[] {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim());
  const gpus: GpuInfo[] = [];
  for (const line of lines) {
    if (/^name\s*,/i.test(line)) continue; // header
    const [name, mem, cc, driver] = line.split(',').map((s) => s.trim());
    const mib = (mem ?? '').match(/([\d.]+)\s*MiB/i);
    if (!name || !mib) continue;
    gpus.push({
      name,
      vramBytes: Math.round(Number(mib[1]) * 1024 * 1024),
      computeCapability: cc ?? '',
      driver: driver ?? '',
    });
  }
  return gpus;
}

/** GPUs as nvidia-smi reports them; none when nvidia-smi is missing or lists nothing (nvcc alone means nothing). */
export function probeGpus(): GpuInfo[] {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total,compute_cap,driver_version', '--format=csv'], {
    encoding: 'utf8',
    timeout: 15000,
    env: childEnv(),
  });
  if (r.error || r.status !== 0) return [];
  return parseNvidiaSmiCsv(r.stdout);
}

export function probeHardware(): HardwareProfile {
  let info: ReturnType<typeof parseCpuInfo> = { flags: [] };
  try {
    info = parseCpuInfo(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    /* not Linux: fall back to os.cpus() */
  }
  const cpus = os.cpus();
  const threads = os.availableParallelism?.() ?? cpus.length;
  return {
    cpu: {
      model: info.model ?? cpus[0]?.model ?? 'unknown CPU',
      cores: Math.min(info.cores ?? threads, threads),
      threads,
      flags: info.flags,
    },
    memoryBytes: os.totalmem(),
    gpus: probeGpus(),
    os: `${os.type()} ${os.release()}`,
    arch: os.arch(),
  };
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function describeHardware(hw: HardwareProfile): string {
  const lines = [
    `CPU     ${hw.cpu.model}`,
    `cores   ${hw.cpu.cores} physical, ${hw.cpu.threads} logical`,
    `flags   ${hw.cpu.flags.join(' ') || '(none detected)'}`,
    `memory  ${formatBytes(hw.memoryBytes)}`,
    `os      ${hw.os} (${hw.arch})`,
  ];
  // A session's GPUs are its llama.cpp build's devices (device name, backend, free memory); `haqa hardware` shows
  // nvidia-smi's.
  const fromBuild = hw.gpus.some((g) => g.device);
  if (hw.gpus.length === 0)
    lines.push(`GPUs    none (${fromBuild ? 'the llama.cpp build lists' : 'nvidia-smi lists'} no GPU)`);
  hw.gpus.forEach((g, i) => {
    const facts = [
      formatBytes(g.vramBytes) + (g.freeBytes !== undefined ? ` (${formatBytes(g.freeBytes)} free)` : ''),
      ...(g.backend ? [g.backend] : []),
      ...(g.computeCapability ? [`compute ${g.computeCapability}`] : []),
      ...(g.driver ? [`driver ${g.driver}`] : []),
    ];
    lines.push(`GPU ${g.device ?? i}${g.device ? ' ' : '   '}${g.name}, ${facts.join(', ')}`);
  });
  return lines.join('\n');
}
