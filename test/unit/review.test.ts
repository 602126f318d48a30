/**
 * The core's review gate (what the extension's "each" review mode and the webview drive), the per-trial cancel the
 * terminal's Ctrl+C uses, and the deploy files an Accept proposes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ProcessRunner } from '../../src/core/process/runner';
import { checkOverride, runOptimize, type ReviewDecision } from '../../src/core/session';
import { SessionStore } from '../../src/core/store';
import { resolveStrategy } from '../../src/core/strategies';
import { SearchSpace } from '../../src/core/space';
import {
  deployConfig,
  deployFiles,
  launchScript,
  ollamaModelfile,
  serverArgv,
  type DeployInput,
} from '../../src/core/toolchains/llamacpp/deploy';
import type { Toolchain, TrialContext, TrialOutcome } from '../../src/core/toolchains/toolchain';
import type { Config, TrialRecord } from '../../src/core/types';
import { GRID_HW, gridLoop, gridSpec, replayGrid } from '../helpers/replay';
import { tmpDir } from '../helpers/fixtures';

async function reviewed(decide: (p: { index: number; config: Config }, n: number) => ReviewDecision, budget = 3) {
  const tc = replayGrid();
  const rejected: string[][] = [];
  let n = 0;
  const { summary } = await gridLoop(tc, {
    budget,
    strategy: resolveStrategy('builtin'),
    review: async (p) => decide(p, n++),
    onEvent: (e) => {
      if (e.type === 'rejected') rejected.push(e.reasons);
    },
  });
  return { summary, rejected, tc };
}

test('review: accept runs the proposal, skip records it as skipped (not counted, never proposed again)', async () => {
  const seen: string[] = [];
  const { summary } = await reviewed((p, n) => {
    seen.push(JSON.stringify(p.config));
    return n === 1 ? { action: 'skip' } : { action: 'accept' };
  });
  assert.deepEqual(
    summary.trials.map((t) => t.status),
    ['done', 'skipped', 'done', 'done'],
  );
  assert.equal(summary.trials[1].cause, 'skipped by the user');
  assert.equal(new Set(seen).size, seen.length, 'a skipped configuration was proposed again');
  assert.equal(summary.status, 'completed');
});

test("review: an override runs the user's configuration, credited to the user with the proposal it replaced", async () => {
  const tc = replayGrid();
  const { summary } = await reviewed(
    (p, n) =>
      n === 0
        ? { action: 'override', config: { ...p.config, threads: p.config.threads === 1 ? 2 : 1 } }
        : { action: 'accept' },
    2,
  );
  const t = summary.trials[0];
  assert.equal(t.strategy, 'user');
  assert.match(t.rationale ?? '', /overridden by the user \(proposed by/);
  assert.ok(tc.space.isValid(t.config));
});

test('review: an invalid override is rejected with its reasons and nothing runs for it', async () => {
  const { summary, rejected } = await reviewed(
    (p, n) =>
      n === 0
        ? { action: 'override', config: { ...p.config, flash_attn: false, cache_type_v: 'q8_0' } }
        : { action: 'accept' },
    2,
  );
  assert.equal(rejected.length, 1);
  assert.match(rejected[0].join(' '), /flash/);
  assert.equal(summary.trials.length, 2);
  assert.ok(summary.trials.every((t) => t.status === 'done' && t.strategy !== 'user'));
});

test('checkOverride names domain, rule and duplicate problems', () => {
  const tc = replayGrid();
  const c = tc.space.defaults();
  assert.deepEqual(checkOverride(tc.space, [], c), []);
  assert.match(checkOverride(tc.space, [], { ...c, quant: 'Q4_0; rm -rf ~' }).join(' '), /outside its domain/);
  assert.match(checkOverride(tc.space, [], { ...c, extra: 1 }).join(' '), /unknown knob/);
  const done = {
    type: 'trial',
    index: 1,
    key: tc.space.key(c),
    config: c,
    status: 'done',
    metrics: {},
    strategy: 'x',
    startedAt: '',
    endedAt: '',
    durationMs: 0,
  } as TrialRecord;
  assert.match(checkOverride(tc.space, [done], c).join(' '), /already measured/);
});

/** A toolchain whose trials are a real process (sleep), so cancelling one is a real cancel. */
class SleepToolchain implements Toolchain {
  readonly name = 'sleep';
  readonly space = new SearchSpace([
    { name: 'n', kind: 'int', values: [1, 2, 3, 4], default: 1, stage: 'runtime', meaning: 'n', ordinal: true },
  ]);
  info() {
    return {};
  }
  async runTrial(config: Config, ctx: TrialContext): Promise<TrialOutcome> {
    const r = await ctx.runner.run(['sleep', config.n === 1 ? '30' : '0.05'], { signal: ctx.signal });
    if (r.cancelled) return { status: 'cancelled', metrics: {}, cause: 'cancelled during sleep', steps: [] };
    return { status: 'done', metrics: { decode: { mean: 10 * Number(config.n), sd: 0, n: 1 } }, steps: [] };
  }
}

test('a per-trial signal cancels only the running trial: the session goes on; the trial is recorded as skipped, not counted, not proposed again', async () => {
  const store = SessionStore.create(tmpDir(), { spec: gridSpec(), strategy: { requested: 'grid', used: 'grid' } });
  const signals: AbortController[] = [];
  const t0 = Date.now();
  const summary = await runOptimize({
    toolchain: new SleepToolchain(),
    hardware: GRID_HW,
    model: replayGrid().modelInfo(),
    strategy: resolveStrategy('grid'),
    objective: { kind: 'decode' },
    budget: 2,
    seed: 0,
    store,
    runner: new ProcessRunner({ mode: 'pipe' }),
    trialSignal: () => {
      const ac = new AbortController();
      signals.push(ac);
      return ac.signal;
    },
    onEvent: (e) => {
      if (e.type === 'trial-start' && e.config.n === 1) setTimeout(() => signals[signals.length - 1].abort(), 300);
    },
  });
  assert.ok(Date.now() - t0 < 15_000, 'the cancelled sleep was not stopped');
  assert.equal(summary.status, 'completed');
  assert.deepEqual(
    summary.trials.filter((t) => t.status === 'skipped').map((t) => t.config.n),
    [1],
  );
  assert.match(
    summary.trials.find((t) => t.status === 'skipped')!.cause ?? '',
    /cancelled by the user while running \(cancelled during sleep\)/,
  );
  assert.equal(summary.trials.filter((t) => t.status === 'done').length, 2);
});

const input = (): DeployInput => ({
  sessionId: 'S1',
  trial: {
    type: 'trial',
    index: 4,
    key: 'k',
    status: 'done',
    strategy: 'builtin',
    startedAt: '2026-01-01T00:00:00Z',
    endedAt: '2026-01-01T00:00:10Z',
    durationMs: 10_000,
    config: {
      quant: 'Q4_K_M',
      imatrix: 'builtin',
      imatrix_chunks: 32,
      threads: 4,
      gpu_layers: 99,
      flash_attn: true,
      batch: 2048,
      ubatch: 512,
      cache_type_k: 'q8_0',
      cache_type_v: 'q8_0',
    },
    metrics: {
      decode: { mean: 50, sd: 1, n: 3 },
      prefill: { mean: 900, sd: 9, n: 3 },
      fileSizeBytes: 4e9,
      accuracy: { dPplPct: 1.2, kld: 0.02 },
    },
  },
  sourceModel: '/m/src f16.gguf',
  modelFile: "/cache/it's Q4_K_M.gguf",
  serverBin: '/opt/llama/llama-server',
  workload: { promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3 },
  hardware: 'CPU x',
  toolchain: { commit: 'abc', backend: 'cuda' },
});

test('the deploy config separates the quantization recipe from runtime knobs and holds the measured metrics; it is deterministic', () => {
  const c = deployConfig(input()) as Record<string, Record<string, unknown>>;
  assert.equal(c.schema as unknown, 'haqa.deploy.v1');
  assert.deepEqual(c.quantization, { quant: 'Q4_K_M', imatrix: 'builtin', imatrix_chunks: 32 });
  assert.deepEqual(Object.keys(c.runtime).sort(), [
    'batch',
    'cache_type_k',
    'cache_type_v',
    'context',
    'flash_attn',
    'gpu_layers',
    'threads',
    'ubatch',
  ]);
  assert.deepEqual((c.measured.decodeTokensPerSecond as { mean: number }).mean, 50);
  assert.deepEqual(c.session, { id: 'S1', trial: 4, measuredAt: '2026-01-01T00:00:10Z' });
  assert.equal(JSON.stringify(deployConfig(input())), JSON.stringify(deployConfig(input())));
  assert.equal(c.verdict, undefined);
  const reason =
    '#4 Q4_K_M and #2 Q4_0 decode within noise of each other (±1.0 %); #4 Q4_K_M chosen: most accurate of the tied';
  const v = {
    best: 4,
    tied: [2],
    unresolved: [],
    tieWithin: 0.05,
    method: "Welch's t-test at 95 % and a margin of 1 %",
    margin: 0.01,
    confirmations: 6,
    reason,
  };
  const withVerdict = deployConfig({ ...input(), verdict: v }) as Record<string, Record<string, unknown>>;
  assert.deepEqual(withVerdict.verdict, {
    best: 4,
    accepted: 'the verdict',
    tied: [2],
    reason,
    method: v.method,
    confirmations: 6,
  });
  const over = deployConfig({ ...input(), verdict: { ...v, best: 2, tied: [4] } }) as Record<
    string,
    Record<string, unknown>
  >;
  assert.equal(over.verdict.accepted, 'over the verdict (#2)');
});

test('the launch script quotes every argument and passes extra ones on; the Modelfile maps the runtime knobs', () => {
  const s = launchScript(input());
  assert.match(s, /^#!\/bin\/sh\n/);
  assert.ok(s.includes(`'/cache/it'\\''s Q4_K_M.gguf'`), s);
  assert.match(s, /-fa on -b 2048 -ub 512 -ctk q8_0 -ctv q8_0 -c 4096 --host 127\.0\.0\.1 --port 8080 "\$@"\n$/);
  const m = ollamaModelfile(input());
  assert.match(m, /^FROM \/cache\/it's Q4_K_M\.gguf$/m);
  assert.match(m, /PARAMETER num_thread 4/);
  assert.match(m, /PARAMETER num_gpu 99/);
  assert.match(m, /OLLAMA_KV_CACHE_TYPE=q8_0/);
  const cfg = input().trial.config;
  const modelfile = (c: Record<string, unknown>, w = input().workload) =>
    ollamaModelfile({ ...input(), trial: { ...input().trial, config: { ...cfg, ...c } as typeof cfg }, workload: w });
  // Every layer offloaded: no num_gpu (Ollama's default; its new engine refuses a count above the model's layers).
  assert.doesNotMatch(modelfile({ gpu_layers: 999 }), /num_gpu/);
  // Two GPUs split by rows 2:1: Ollama spreads layers itself, and says it cannot follow; the layer split is its own.
  assert.match(
    modelfile({ split_mode: 'row', tensor_split: '2,1' }),
    /# Ollama spreads layers over the GPUs itself \(no -sm row \/ -ts 2,1\)/,
  );
  assert.doesNotMatch(modelfile({ split_mode: 'layer', tensor_split: 'auto' }), /spreads layers/);
  // A CPU build (no gpu_layers knob): num_gpu 0, as measured.
  const { gpu_layers: _g, ...cpu } = cfg;
  assert.match(
    ollamaModelfile({ ...input(), trial: { ...input().trial, config: cpu as typeof cfg } }),
    /PARAMETER num_gpu 0/,
  );
  // K and V differ, or a quantized cache without flash attention: Ollama cannot express it, and says so.
  for (const c of [
    { cache_type_k: 'q8_0', cache_type_v: 'f16' },
    { cache_type_k: 'q4_0', cache_type_v: 'q4_0', flash_attn: false },
    { cache_type_k: 'q5_1', cache_type_v: 'q5_1' },
  ]) {
    const text = modelfile(c);
    assert.doesNotMatch(text, /OLLAMA_KV_CACHE_TYPE/, JSON.stringify(c));
    assert.match(
      text,
      /# Ollama cannot run this K\/V cache exactly .* haqa-serve\.sh \(llama-server\) serves it as measured/,
    );
  }
  // Experts kept on the CPU (-ncmoe) have no Ollama setting: said, and served as measured by llama-server.
  assert.match(
    modelfile({ n_cpu_moe: 16 }),
    /# Ollama has no setting for experts kept on the CPU \(llama\.cpp -ncmoe 16\)/,
  );
  assert.doesNotMatch(modelfile({ n_cpu_moe: 0 }), /experts/);
  assert.match(
    launchScript({ ...input(), trial: { ...input().trial, config: { ...cfg, n_cpu_moe: 16 } } }),
    / -ncmoe 16 /,
  );
  // The context served (--context): -c N and num_ctx N.
  const w = { ...input().workload, depth: 16384, context: 32768 };
  assert.match(modelfile({}, w), /PARAMETER num_ctx 32768/);
  assert.match(launchScript({ ...input(), workload: w }), / -c 32768 /);
  assert.deepEqual(
    deployFiles(input(), { configPath: '/ws/deploy/haqa.deploy.json', modelfile: true }).map((f) => f.path),
    ['/ws/deploy/haqa.deploy.json', '/ws/deploy/haqa-serve.sh', '/ws/deploy/Modelfile'],
  );
  assert.deepEqual(serverArgv('s', 'm', input().trial.config, input().workload, 9999).slice(-2), ['--port', '9999']);
});
