import type { Config, Workload } from '../../types';

/** The llama-server argv that serves a model with a measured configuration (values from a validated config). */
export function serverArgv(serverBin: string, modelFile: string, config: Config, w: Workload): string[] {
  const ctx = Math.max(4096, w.depth + w.promptTokens + w.genTokens);
  return [
    serverBin, '-m', modelFile,
    '-t', String(config.threads),
    '-ngl', String(config.gpu_layers ?? 0),
    '-fa', config.flash_attn ? 'on' : 'off',
    '-b', String(config.batch), '-ub', String(config.ubatch),
    '-ctk', String(config.cache_type_k), '-ctv', String(config.cache_type_v),
    '-c', String(ctx),
    '--host', '127.0.0.1', '--port', '8080',
  ];
}
