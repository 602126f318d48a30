import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DEFAULT_LLM } from '../../src/core/agent/settings';
import { isHaqaError } from '../../src/core/errors';
import { bestTrial } from '../../src/core/verdict';
import { ProcessRunner } from '../../src/core/process/runner';
import { recordTrial, rerunTrial } from '../../src/core/session';
import { SPEC_VERSION, parseSessionSpec, specForDisk } from '../../src/core/spec';
import { SessionStore } from '../../src/core/store';
import type { TrialRecord } from '../../src/core/types';
import type { Toolchain } from '../../src/core/toolchains/toolchain';
import { CLI, GRID, ROOT, tmpDir } from '../helpers/fixtures';
import { gridSpec, replayGrid, replaySession } from '../helpers/replay';

const writeSession = (meta: unknown): { root: string; id: string } => {
  const root = tmpDir();
  const dir = path.join(root, 'sessions', 'old-1');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'session.json'), JSON.stringify(meta));
  return { root, id: 'old-1' };
};

const refused = (f: () => unknown, ...patterns: RegExp[]) =>
  assert.throws(f, (e: unknown) => {
    assert.ok(isHaqaError(e), `not a HaqaError: ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });

test('a spec goes to session.json and comes back equal, through the typed reader', () => {
  const spec = gridSpec({
    budget: 7,
    seed: 3,
    timeBudgetMin: 5,
    objective: { kind: 'balanced', decodeWeight: 0.3, maxSizeBytes: 2 ** 30 },
    workload: { promptTokens: 64, genTokens: 16, depth: 0, repetitions: 2 },
    toolchain: { cacheDir: '/tmp/haqa-cache' },
  });
  const store = SessionStore.create(tmpDir(), { spec, strategy: { requested: 'builtin', used: 'builtin' } });
  const raw = JSON.parse(fs.readFileSync(path.join(store.dir, 'session.json'), 'utf8'));
  assert.equal(raw.spec.version, SPEC_VERSION);
  assert.equal(raw.options, undefined, 'new sessions write the versioned spec, not the untyped options');
  const back = SessionStore.open(path.dirname(path.dirname(store.dir)), store.id).meta.spec;
  assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(spec)), 'a field was lost on the way');
  assert.equal(back.objective.kind, 'balanced');
  assert.equal(back.budget, 7);
});

test('an older session.json (untyped options, no version) still loads as a spec', () => {
  const { root, id } = writeSession({
    id: 'old-1',
    createdAt: '2026-11-20T10:00:00.000Z',
    updatedAt: '2026-11-20T10:05:00.000Z',
    status: 'stopped',
    options: {
      model: '/models/m.gguf',
      strategy: 'tpe',
      budget: 9,
      seed: 2,
      objective: { kind: 'prefill', maxDeltaPplPct: 5 },
      workload: { promptTokens: 256, genTokens: 64, depth: 0, repetitions: 3 },
      cacheDir: '/var/cache/haqa',
      accuracy: { evalFile: '/data/eval.txt', chunks: 4 },
      llm: { baseUrl: 'http://127.0.0.1:11434/v1', model: 'qwen', timeoutMs: 120000, maxRetries: 3 },
    },
    strategy: { requested: 'tpe', used: 'tpe' },
    hardware: { cpu: { model: 'EPYC', cores: 2, threads: 2, flags: ['avx2'] }, memoryBytes: 1, gpus: [], os: 'Linux' },
    model: { name: 'm', path: '/models/m.gguf', layers: 4 },
  });
  const meta = SessionStore.open(root, id).meta;
  assert.equal(meta.spec.version, SPEC_VERSION);
  assert.equal(meta.spec.model, '/models/m.gguf');
  assert.equal(meta.spec.strategy, 'tpe');
  assert.equal(meta.spec.budget, 9);
  assert.deepEqual(meta.spec.objective, {
    kind: 'prefill',
    decodeWeight: undefined,
    maxSizeBytes: undefined,
    maxMemBytes: undefined,
    maxVramBytes: undefined,
    maxDeltaPplPct: 5,
    maxKld: undefined,
  });
  assert.equal(meta.spec.toolchain.cacheDir, '/var/cache/haqa', 'the old top-level cacheDir moves into toolchain');
  assert.deepEqual(meta.spec.accuracy, { evalFile: '/data/eval.txt', chunks: 4 });
  assert.equal(meta.spec.llm?.model, 'qwen');
  assert.equal(meta.spec.llm?.maxPromptTokens, 6000, 'a setting the old file lacks gets its default');
  assert.equal(meta.hardware?.cpu.cores, 2);
  assert.equal(meta.model?.layers, 4);
  assert.equal(SessionStore.list(root).length, 1);
});

/** A copy of a session written by the previous version of HAQA (b7ed602, before the spec), in a fresh .haqa root. */
const oldSession = (name: string) => {
  const root = tmpDir();
  const dir = path.join(root, 'sessions', name);
  fs.cpSync(path.join(ROOT, 'test/fixtures/sessions', name), dir, { recursive: true });
  return { root, dir };
};

const openOld = (name: string) => SessionStore.open(oldSession(name).root, name).meta;

test('sessions written by the previous version (CLI replay, LLM + balanced, a decimal budget) load, report and resume', () => {
  const a = openOld('v0-cli-replay');
  assert.equal(a.spec.strategy, 'random');
  assert.equal(a.spec.budget, 2);
  assert.equal(a.spec.seed, 3);
  assert.equal(a.spec.accuracy, null);
  assert.equal(a.spec.replay?.length, 1);
  const b = openOld('v0-cli-llm-balanced');
  assert.equal(b.spec.objective.kind, 'balanced');
  assert.equal(b.spec.objective.maxSizeBytes, 500 * 2 ** 20);
  assert.equal(b.spec.llm?.baseUrl, 'http://127.0.0.1:9/v1');
  assert.equal(b.spec.llm?.timeoutMs, 1000);
  assert.equal(b.strategy.used, 'llm');
  const c = openOld('v0-cli-decimal-budget');
  assert.equal(c.spec.budget, 2.5, 'the previous CLI accepted --budget 2.5; its sessions must still open');
  assert.equal(c.spec.seed, 1.5);
  // The CLI reports it, with the trials it measured.
  const { root, dir } = oldSession('v0-cli-decimal-budget');
  const out = spawnSync(process.execPath, [CLI, 'report', dir, '--json', '--session-dir', root], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const rep = JSON.parse(out.stdout);
  assert.equal(rep.schema, 'haqa.report.v2');
  assert.equal(rep.session.spec.budget, 2.5);
  assert.equal(rep.trials.length, 3);
});

test("a spec a host just built is checked before anything runs, as the user's options", () => {
  refused(
    () => specForDisk(gridSpec({ budget: 0 })),
    /^the session's settings are not valid: spec\.budget must be a number ≥ 1/,
  );
  try {
    specForDisk(gridSpec({ llm: { ...DEFAULT_LLM, baseUrl: 'ftp://x', model: 'm' } }));
    assert.fail('an ftp endpoint was accepted');
  } catch (e) {
    assert.ok(isHaqaError(e));
    assert.equal(e.code, 'usage');
    assert.match(e.message, /spec\.llm\.baseUrl: LLM base URL must be http or https/);
    assert.match(e.fixFor('cli'), /haqa --help/);
    assert.doesNotMatch(e.fixFor('vscode'), /--/);
  }
});

test('a session.json that is not a valid session is refused with every problem named', () => {
  refused(
    () =>
      parseSessionSpec({
        model: 'relative/m.gguf',
        budget: 0,
        strategy: 'bogus',
        objective: { kind: 'fastest', maxSizeBytes: '1 GB' },
        workload: { promptTokens: -1 },
      }),
    /budget must be a number ≥ 1/,
    /strategy must be one of auto, builtin/,
    /objective\.kind must be one of decode, prefill, balanced/,
    /maxSizeBytes must be a number/,
    /workload\.promptTokens/,
    /"relative\/m\.gguf" in spec is not absolute/,
  );
  refused(() => parseSessionSpec({ budget: 3 }), /neither a model nor replay files/);
  refused(() => parseSessionSpec({ version: 99, model: '/m.gguf' }), /version 99 session; this HAQA reads version 1/);
  refused(
    () => parseSessionSpec({ version: '1', model: '/m.gguf' }),
    /a session of version "1"; this HAQA reads version 1/,
  );
  refused(() => parseSessionSpec(null), /spec must be an object/);
  const { root, id } = writeSession({ id: 'old-1', status: 'done?', strategy: { requested: 'x', used: 'x' } });
  refused(() => SessionStore.open(root, id), /session\.json is not a valid HAQA session: unknown status "done\?"/);
  assert.equal(SessionStore.list(root).length, 0, 'the list skips what is not a session');
});

const gridTrial = (index: number, status: TrialRecord['status'] = 'done'): TrialRecord => {
  const config = replayGrid().space.canonical({ quant: 'Q4_0', threads: 2, flash_attn: false, cache_type_k: 'f16' });
  return {
    type: 'trial',
    index,
    key: replayGrid().space.key(config),
    config,
    status,
    metrics: {},
    strategy: 'builtin',
    startedAt: '',
    endedAt: '',
    durationMs: 0,
  };
};

test('recordTrial: over a limit is infeasible, no objective metric is failed, a skip is neither', () => {
  const space = replayGrid().space;
  const base = {
    index: 1,
    config: gridTrial(1).config,
    proposal: { rationale: 'why not' },
    strategy: 'builtin',
    startedAt: new Date(),
    space,
    history: [],
  };
  const metrics = { decode: { mean: 100, sd: 1, n: 3 }, fileSizeBytes: 5 * 2 ** 20 };
  const over = recordTrial({
    ...base,
    outcome: { status: 'done', metrics, steps: [] },
    objective: { kind: 'decode', maxSizeBytes: 2 ** 20 },
  });
  assert.equal(over.status, 'infeasible');
  assert.match(over.cause ?? '', /file size 5\.0 MiB > max 1\.0 MiB/);
  assert.equal(over.strategy, 'builtin');
  const within = recordTrial({
    ...base,
    outcome: { status: 'done', metrics, steps: [] },
    objective: { kind: 'decode' },
  });
  assert.equal(within.status, 'done');
  const noPrefill = recordTrial({
    ...base,
    outcome: { status: 'done', metrics, steps: [] },
    objective: { kind: 'prefill' },
  });
  assert.equal(noPrefill.status, 'failed');
  assert.match(noPrefill.cause ?? '', /no prefill measurement/);
  const skipped = recordTrial({
    ...base,
    outcome: { status: 'skipped', metrics: {}, cause: 'skipped by the user', steps: [] },
    proposal: { source: 'user' },
    objective: { kind: 'decode', maxSizeBytes: 1 },
  });
  assert.equal(skipped.status, 'skipped');
  assert.equal(skipped.strategy, 'user');
});

test("Re-run Trial pools a measured trial's new samples into it; a run that now crosses a limit is a new trial", async () => {
  const grid = replayGrid();
  const measured = (await replaySession(tmpDir(), 'grid', 1)).summary.trials[0];
  assert.equal(measured.status, 'done');
  // A toolchain that measures again (the replay answers the same figures, so it is never pooled: see below).
  const tc: Toolchain = {
    name: 'again',
    space: grid.space,
    info: () => ({ toolchain: 'again' }),
    runTrial: (c, ctx) => {
      // The log a tool would write, named as the toolchain names it.
      const tag = ctx.logTag ?? `trial-${String(ctx.trialIndex).padStart(3, '0')}`;
      fs.writeFileSync(path.join(ctx.logDir, `${tag}-bench.log`), 'measured');
      return grid.runTrial(c, ctx);
    },
  };
  const spec = gridSpec();
  const store = SessionStore.create(tmpDir(), { spec, strategy: { requested: 'grid', used: 'grid' } });
  store.appendTrial(measured);
  const n = measured.metrics.decode!.n;
  const runner = new ProcessRunner({ mode: 'pipe' });
  const out = await rerunTrial({ store, toolchain: tc, objective: spec.objective, trial: measured, runner });
  assert.equal(out.pooled, true);
  assert.equal(out.trial.index, 1, 'pooled into the same trial');
  assert.equal(out.trial.metrics.decode!.n, 2 * n);
  assert.equal(out.trial.confirmedRuns, 1);
  const { trials } = store.readTrials();
  assert.equal(trials.length, 1, 'no twin row');
  assert.equal(trials[0].metrics.decode!.n, 2 * n, 'every reader sees the pooled figures');
  const runs = store.readConfirmations();
  assert.equal(runs.length, 1);
  assert.ok(runs[0].type === 'confirm' && runs[0].rerun === true && runs[0].of === 1);
  // The same configuration under a size limit it is over: recorded as a new, infeasible trial; nothing pooled.
  const limited = { kind: 'decode' as const, maxSizeBytes: 2 ** 20 };
  const over = await rerunTrial({ store, toolchain: tc, objective: limited, trial: trials[0], runner });
  assert.equal(over.pooled, false);
  assert.equal(over.trial.index, 2);
  assert.equal(over.trial.status, 'infeasible');
  assert.equal(store.readTrials().trials.find((t) => t.index === 1)!.metrics.decode!.n, 2 * n);
  // Each trial's logs are its own: the pooled re-run's under trial 1, the one that became trial 2 under its name.
  assert.deepEqual(
    store.logsOf(1).map((f) => path.basename(f)),
    ['rerun-01-001-bench.log'],
  );
  assert.deepEqual(
    store.logsOf(2).map((f) => path.basename(f)),
    ['trial-002-bench.log'],
  );
  // A session folder whose logs cannot be written: the re-run stops with the cause; nothing is recorded.
  fs.rmSync(store.logsDir, { recursive: true });
  fs.writeFileSync(path.join(store.dir, 'logs'), 'a file where the folder should be');
  await assert.rejects(
    rerunTrial({ store, toolchain: tc, objective: spec.objective, trial: trials[0], runner }),
    /the re-run could not run: cannot create .*logs: a file stands where a folder is needed/,
  );
  assert.equal(store.readTrials().lastIndex, 2);
  fs.rmSync(path.join(store.dir, 'logs'));
  // A replay answers with the same recorded figures: pooling them would fake certainty.
  const same = await rerunTrial({ store, toolchain: grid, objective: spec.objective, trial: trials[0], runner });
  assert.equal(same.pooled, false);
});

test('Re-run Trial records through the same rule: an over-limit re-run is infeasible and never best', async () => {
  const tc = replayGrid();
  // A configuration the grid holds: the first one a grid session measures.
  const measured = (await replaySession(tmpDir(), 'grid', 1)).summary.trials[0];
  assert.equal(measured.status, 'done');
  const spec = gridSpec({ objective: { kind: 'decode', maxSizeBytes: 2 ** 20 } });
  const store = SessionStore.create(tmpDir(), { spec, strategy: { requested: 'builtin', used: 'builtin' } });
  const first: TrialRecord = { ...measured, status: 'infeasible', cause: 'over the limit' };
  store.appendTrial(first);
  const out = await rerunTrial({
    store,
    toolchain: tc,
    objective: spec.objective,
    trial: first,
    runner: new ProcessRunner({ mode: 'pipe' }),
  });
  assert.equal(out.pooled, false, 'a trial over a limit is measured as a new trial, never pooled');
  const rec = out.trial;
  assert.equal(rec.index, 2);
  assert.equal(rec.strategy, 'user');
  assert.match(rec.rationale ?? '', /re-run of trial #1/);
  assert.ok(rec.metrics.decode && rec.metrics.fileSizeBytes! > 2 ** 20, 'the grid row was not measured');
  assert.equal(rec.status, 'infeasible');
  assert.match(rec.cause ?? '', /file size .* > max 1\.0 MiB/);
  const { trials } = store.readTrials();
  assert.equal(trials.length, 2);
  assert.equal(bestTrial(spec.objective, trials), undefined);
  assert.ok(fs.existsSync(GRID));
});
