import * as path from 'node:path';
import { shellQuoteForDisplay } from '../../process/runner';
import type { Config, TrialRecord, Workload } from '../../types';
import { runtimeArgs } from './bench';
import { ALL_LAYERS } from '../../knobs';
import { quantRecipe, recipeKnobs } from './space';
import type { Verdict } from '../../verdict';

/** The llama-server argv that serves a model with a measured configuration (values from a validated config). */
export function serverArgv(
  serverBin: string,
  modelFile: string,
  config: Config,
  w: Workload,
  port = 8080,
  trainedContext = 0,
): string[] {
  return [
    serverBin,
    '-m',
    modelFile,
    ...runtimeArgs(config),
    '-c',
    String(contextFor(w, trainedContext)),
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
  ];
}

/** The context asked for: the workload's (--context), else room for what was measured, at least 4096. */
const contextWanted = (w: Workload) => w.context ?? Math.max(4096, w.depth + w.promptTokens + w.genTokens);

/**
 * The context served: the one asked for, cut to the model's training context (`trainedContext`, its GGUF's
 * `context_length`; 0: unknown, not cut) — llama-server cuts a larger `-c` itself and says so only in its log.
 */
export const contextFor = (w: Workload, trainedContext = 0) => {
  const c = contextWanted(w);
  return trainedContext > 0 && c > trainedContext ? trainedContext : c;
};

/**
 * The context a deployment serves and, when it is less than was asked for, why. `requested` is the session's
 * `--context` before it was cut to the training context (prepare.ts workloadFor); absent: the workload's, or the
 * default.
 */
export function servedContext(
  w: Workload,
  trainedContext = 0,
  requested?: number,
): { context: number; wanted: number; note?: string } {
  const wanted = requested ?? contextWanted(w);
  const context = contextFor(w, trainedContext);
  if (context >= wanted) return { context, wanted };
  const asked = requested !== undefined || w.context !== undefined ? 'the context asked for' : 'the default context';
  return {
    context,
    wanted,
    note:
      `${asked} (${wanted} tokens) is more than the model was trained for (${context} tokens, its GGUF context_length): ` +
      `llama-server would cut -c ${wanted} to ${context} and say so only in its log, so this deployment serves ${context}`,
  };
}

/**
 * The deploy config's version, kept under `schema` (as the CLI's `haqa.*.v1` documents do), not `$schema`: VS Code
 * resolves a `$schema` without a URI scheme as a path beside the file ("Unable to load schema"), and a `$schema` wins
 * over every association. The extension contributes `schemas/haqa.deploy.v1.schema.json` for files named
 * `haqa.deploy.json` / `*.haqa.deploy.json` (package.json `jsonValidation`), which VS Code loads from the installed
 * extension itself: no network, no path of this machine in the file.
 */
export const DEPLOY_SCHEMA = 'haqa.deploy.v1';
/** The JSON Schema of the deploy config, relative to the extension's (and the repository's) root. */
export const DEPLOY_SCHEMA_FILE = 'schemas/haqa.deploy.v1.schema.json';

export interface DeployInput {
  sessionId: string;
  trial: TrialRecord;
  sourceModel: string;
  /** The quantized file the trial measured (the source itself for its own type). */
  modelFile: string;
  serverBin: string;
  workload: Workload;
  hardware: string;
  /** The llama.cpp build: its commit and backend, and where HAQA found it (locate.ts LlamaTools.source, binDir). */
  toolchain: { commit?: unknown; backend?: unknown; source?: string; binDir?: string };
  /** The session's verdict when the trial was accepted (see verdict.ts): why this trial, or which one it was chosen over. */
  verdict?: Verdict;
  /** The model's training context (ModelInfo.contextLength; 0 or absent: unknown): the most a deployment serves. */
  trainedContext?: number;
  /** The session's --context before it was cut to the training context, for the note that says so. */
  requestedContext?: number;
}

const served = (i: DeployInput) => servedContext(i.workload, i.trainedContext, i.requestedContext);
const argvOf = (i: DeployInput) =>
  serverArgv(i.serverBin, i.modelFile, i.trial.config, i.workload, 8080, i.trainedContext);

/**
 * haqa.deploy.json: what to run and why — deterministic for a trial (no clock), so a diff shows only real
 * changes.
 */
export function deployConfig(i: DeployInput): Record<string, unknown> {
  const c = i.trial.config;
  const recipe = new Set(['quant', ...recipeKnobs([]).map((k) => k.name)]);
  const runtime = Object.fromEntries(Object.entries(c).filter(([k]) => !recipe.has(k)));
  const m = i.trial.metrics;
  const ctx = served(i);
  return {
    schema: DEPLOY_SCHEMA,
    model: { source: i.sourceModel, file: i.modelFile },
    quantization: quantRecipe(c),
    runtime: { ...runtime, context: ctx.context, ...(ctx.note ? { contextNote: ctx.note } : {}) },
    server: { argv: argvOf(i), llamaCpp: serverBuild(i) },
    measured: {
      decodeTokensPerSecond: m.decode ?? null,
      prefillTokensPerSecond: m.prefill ?? null,
      fileSizeBytes: m.fileSizeBytes ?? null,
      peakHostMemBytes: m.peakHostMemBytes ?? null,
      peakDeviceMemBytes: m.peakDeviceMemBytes ?? null,
      accuracy: m.accuracy ?? null,
      workload: i.workload,
      hardware: i.hardware,
      llamaCpp: { commit: i.toolchain.commit ?? null, backend: i.toolchain.backend ?? null },
    },
    session: { id: i.sessionId, trial: i.trial.index, measuredAt: i.trial.endedAt },
    ...(i.verdict
      ? {
          verdict: {
            best: i.verdict.best ?? null,
            accepted: i.verdict.best === i.trial.index ? 'the verdict' : `over the verdict (#${i.verdict.best ?? '–'})`,
            tied: i.verdict.tied,
            ...(i.verdict.unresolved?.length ? { unresolved: i.verdict.unresolved } : {}),
            reason: i.verdict.reason,
            method: i.verdict.method,
            confirmations: i.verdict.confirmations,
          },
        }
      : {}),
  };
}

const SOURCES: Record<string, string> = {
  explicit: 'the folder given (haqa.llamacpp.binDir / --llamacpp-bin)',
  env: 'the folder in $HAQA_LLAMACPP_BIN',
  path: 'PATH',
};

/**
 * Which llama.cpp build serves it, so the llama-server path says what it is: HAQA's own build lives in its cache in a
 * folder named for the commit, the backend and a hash of the tool set — which `haqa clean --toolchain` removes.
 */
function serverBuild(i: DeployInput): Record<string, unknown> {
  const commit = typeof i.toolchain.commit === 'string' ? i.toolchain.commit : null;
  const backend = typeof i.toolchain.backend === 'string' ? i.toolchain.backend : null;
  const build = `llama.cpp ${commit ? commit.slice(0, 12) : '(commit unknown)'}, ${backend ?? 'unknown'} backend`;
  const note =
    i.toolchain.source === 'cache'
      ? `HAQA's own build of ${build}, in HAQA's cache: its folder is named <commit>-<backend>-<hash of the tool set>. ` +
        'Emptying the toolchain cache (haqa clean --toolchain) removes it; to serve without it, build llama.cpp at ' +
        'this commit yourself and change the path'
      : `${build}, found in ${SOURCES[i.toolchain.source ?? ''] ?? 'a folder of yours'}`;
  return {
    commit,
    backend,
    ...(i.toolchain.source ? { source: i.toolchain.source } : {}),
    ...(i.toolchain.binDir ? { binDir: i.toolchain.binDir } : {}),
    note,
  };
}

/** A POSIX launch script for the accepted configuration; extra arguments are passed on ("$@"). */
export function launchScript(i: DeployInput): string {
  const argv = argvOf(i);
  const note = served(i).note;
  return [
    '#!/bin/sh',
    `# Generated by HAQA from session ${i.sessionId}, trial #${i.trial.index}. ` +
      'Serves the accepted configuration with llama-server.',
    ...(note ? [`# -c: ${note}.`] : []),
    `exec ${argv.map(shellQuoteForDisplay).join(' ')} "$@"`,
    '',
  ].join('\n');
}

/** The K/V cache types Ollama's server takes (OLLAMA_KV_CACHE_TYPE: one type for both, with flash attention on). */
const OLLAMA_KV = ['f16', 'q8_0', 'q4_0'];

/**
 * An Ollama Modelfile for the same weights and runtime. Checked against Ollama's FAQ and issue #12040 (see README):
 * flash attention and the K/V cache type are server settings (OLLAMA_FLASH_ATTENTION, OLLAMA_KV_CACHE_TYPE — one type
 * for K and V, f16/q8_0/q4_0, only with flash attention), so they are written as a comment to set there, or as the
 * reason Ollama cannot reproduce the configuration; `num_gpu` is left out when every layer is offloaded (Ollama's
 * default; its new engine refuses a count above the model's layers), else it is the measured layer count (0: CPU).
 */
export function ollamaModelfile(i: DeployInput): string {
  const c = i.trial.config;
  const k = String(c.cache_type_k);
  const v = String(c.cache_type_v);
  const server = [`OLLAMA_FLASH_ATTENTION=${c.flash_attn ? 1 : 0}`];
  const notes: string[] = [];
  if (k === v && OLLAMA_KV.includes(k) && (k === 'f16' || c.flash_attn)) {
    if (k !== 'f16') server.push(`OLLAMA_KV_CACHE_TYPE=${k}`);
  } else {
    notes.push(
      `# Ollama cannot run this K/V cache exactly (K ${k}, V ${v}${c.flash_attn ? '' : ', flash attention off'}): it ` +
        `takes one type for both (${OLLAMA_KV.join(', ')}) and quantizes it only with flash attention. ` +
        'haqa-serve.sh (llama-server) serves it as measured.',
    );
  }
  if (Number(c.n_cpu_moe ?? 0) > 0)
    notes.push(
      `# Ollama has no setting for experts kept on the CPU (llama.cpp -ncmoe ${String(c.n_cpu_moe)}): it places whole ` +
        'layers, so it cannot reproduce this configuration; haqa-serve.sh (llama-server) serves it as measured.',
    );
  if ((c.split_mode !== undefined && c.split_mode !== 'layer') || (c.tensor_split ?? 'auto') !== 'auto')
    notes.push(
      `# Ollama spreads layers over the GPUs itself (no -sm ${String(c.split_mode)} / -ts ${String(c.tensor_split)}): ` +
        'haqa-serve.sh (llama-server) serves this split as measured.',
    );
  const layers = c.gpu_layers === undefined ? 0 : Number(c.gpu_layers);
  return [
    `# Generated by HAQA from session ${i.sessionId}, trial #${i.trial.index}.`,
    `# Ollama sets these on the server, not here: ${server.join(' ')}`,
    ...notes,
    `FROM ${i.modelFile}`,
    `PARAMETER num_thread ${String(c.threads)}`,
    ...(layers >= ALL_LAYERS ? [] : [`PARAMETER num_gpu ${layers}`]),
    `PARAMETER num_batch ${String(c.batch)}`,
    `PARAMETER num_ctx ${served(i).context}`,
    '',
  ].join('\n');
}

/**
 * The files an Accept proposes, relative to the workspace: the deploy config, the launch script, optionally a
 * Modelfile.
 */
export function deployFiles(
  i: DeployInput,
  o: { configPath: string; modelfile: boolean },
): { path: string; content: string }[] {
  const dir = path.dirname(o.configPath);
  const files = [
    { path: o.configPath, content: `${JSON.stringify(deployConfig(i), null, 2)}\n` },
    { path: path.join(dir, 'haqa-serve.sh'), content: launchScript(i) },
  ];
  if (o.modelfile) files.push({ path: path.join(dir, 'Modelfile'), content: ollamaModelfile(i) });
  return files;
}
