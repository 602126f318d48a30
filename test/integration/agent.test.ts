/**
 * The LLM agent driving the real toolchain: the scripted OpenAI-protocol server proposes hostile configurations and
 * then a valid one; only the valid one may reach llama-quantize / llama-bench, and only as argv values.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DEFAULT_LLM } from '../../src/core/agent/settings';
import { probeHardware } from '../../src/core/hardware';
import { inspectModel } from '../../src/core/model';
import { freeLoopbackPort } from '../../src/core/toolchains/llamacpp/tryIt';
import { ProcessRunner } from '../../src/core/process/runner';
import { runOptimize } from '../../src/core/session';
import { SessionStore } from '../../src/core/store';
import { resolveStrategy } from '../../src/core/strategies';
import { locateTools, withToolInfo } from '../../src/core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../../src/core/toolchains/llamacpp/toolchain';
import { OpenAiTestServer, systemMessage } from '../helpers/openaiServer';
import { agentSession, replyJson } from '../helpers/agent';
import { gridSpec, replayGrid } from '../helpers/replay';
import { smallLlama, tmpDir } from '../helpers/fixtures';

let model = '';
let serverModel = '';
const server = new OpenAiTestServer(() => ({ content: '' }));

before(async () => {
  assert.ok(locateTools(), 'llama.cpp tools not found: run `node dist/cli.js toolchain build` (as .ci/run does) first');
  model = await smallLlama('agent.gguf');
  await server.start();
  // llama-server serves at most the context the model was trained for: give its model room for the agent's prompt.
  serverModel = await smallLlama('server.gguf', { context: 4096 });
});
after(() => server.stop());

test('agent on the real toolchain: hostile proposals never become processes; the valid one runs as plain argv values', async () => {
  const dir = tmpDir();
  const runner = new ProcessRunner({ mode: 'pipe' });
  const started: string[][] = [];
  runner.subscribe((e) => {
    if (e.type === 'start') started.push(e.argv);
  });
  const hw = probeHardware();
  const info = await inspectModel(model);
  const tools = await withToolInfo(runner, locateTools()!);
  const tc = new LlamaCppToolchain(tools, hw, info, {
    workload: { promptTokens: 32, genTokens: 8, depth: 0, repetitions: 1 },
    cacheDir: dir,
  });
  const good = { ...tc.space.defaults(), quant: 'Q4_0', threads: 1 };
  const hostile = [
    { config: { ...good, quant: 'Q4_0 --output /etc/passwd' } },
    { config: { ...good, threads: '1; touch /tmp/haqa-pwned' } },
    { config: { ...good, quant: '$(touch /tmp/haqa-pwned)' } },
    { config: { ...good, model: '/etc/shadow' } },
  ];
  server.setResponder((_r, n) => ({
    content: n === 0 ? replyJson(hostile) : replyJson([{ config: good, rationale: 'simple 4-bit blocks' }]),
  }));
  const store = SessionStore.create(dir, { spec: gridSpec(), strategy: { requested: 'llm', used: 'llm' } });
  const s = await runOptimize({
    toolchain: tc,
    hardware: hw,
    model: info,
    objective: { kind: 'decode' },
    budget: 1,
    seed: 0,
    store,
    runner,
    strategy: resolveStrategy('llm', {
      llm: { ...DEFAULT_LLM, baseUrl: server.url, model: 'scripted', proposalsPerCall: 4 },
    }),
  });
  assert.equal(s.trials.length, 1);
  assert.equal(s.trials[0].status, 'done', s.trials[0].cause);
  assert.equal(s.trials[0].strategy, 'llm');
  assert.equal(store.readJournal().filter((r) => r.type === 'rejected').length, hostile.length);
  // The toolchain version reached the prompt; its install path did not.
  assert.match(systemMessage(server.chatRequests[0]), /Toolchain: llama\.cpp "[0-9a-f]{40}", backend "cpu"/);
  assert.match(systemMessage(server.chatRequests[0]), /prompt 32 tokens \(prefill\), generate 8 tokens/);
  assert.ok(!server.chatRequests[0].raw.includes(tools.binDir));
  assert.ok(!server.chatRequests[0].raw.includes(model));
  assert.ok(started.length >= 2, 'quantize and bench ran');
  for (const argv of started) {
    for (const a of argv)
      assert.ok(
        !/[;$`|&]|passwd|shadow|pwned/.test(a),
        `suspicious argument reached a process: ${JSON.stringify(argv)}`,
      );
  }
  // The measuring run (the session lists the build's devices with llama-bench --list-devices first).
  const bench = started.find((a) => a.some((x) => x.endsWith('llama-bench')) && a.includes('-m'))!;
  assert.equal(bench[bench.indexOf('-t') + 1], '1');
});

test('a real OpenAI-compatible server (llama.cpp llama-server): the agent negotiates the output mode and the session completes', async () => {
  const server = locateTools()!.server;
  assert.ok(server, 'llama-server is part of the toolchain build');
  const port = await freeLoopbackPort();
  // The random-weight model cannot write sensible JSON: this checks the protocol, not the agent's judgement.
  const proc = spawn(
    server!,
    ['-m', serverModel, '--host', '127.0.0.1', '--port', String(port), '-c', '4096', '-n', '48', '-t', '2'],
    { stdio: 'ignore', detached: true },
  );
  try {
    const url = `http://127.0.0.1:${port}`;
    const t0 = Date.now();
    for (;;) {
      const ok = await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      assert.ok(Date.now() - t0 < 60_000, 'llama-server did not become healthy in 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    const run = await agentSession(`${url}/v1`, {
      strategy: 'llm',
      budget: 2,
      settings: { repairRounds: 1, maxFailures: 1, timeoutMs: 60_000, maxRetries: 0 },
    });
    assert.equal(run.summary.status, 'completed', run.summary.stopReason);
    assert.equal(run.trials.length, 2);
    const calls = run.store.readJournal().filter((r) => r.type === 'llm-call');
    assert.equal(calls[0].mode, 'json_schema', 'the strict schema is asked for first');
    // This llama.cpp build refuses response_format json_schema for a model without a chat template (HTTP 400,
    // "Failed to initialize samplers"; llama.cpp #23775): the agent steps down and never asks for it again.
    const refused = calls.findIndex((c) => c.outcome === 'error' && /HTTP 400/.test(String(c.error)));
    if (refused >= 0) {
      assert.ok(
        calls.slice(refused + 1).every((c) => c.mode !== 'json_schema'),
        'json_schema asked for again after the refusal',
      );
      assert.ok(calls.length > refused + 1, 'no step down after the refusal');
    }
    // Random weights cannot write a usable reply (the server may even fail to parse its own output: HTTP 500), so
    // the built-in strategy must have taken over, and said so.
    assert.ok(
      run.store.readJournal().some((r) => r.type === 'fallback'),
      'no hand-over recorded',
    );
    assert.ok(run.trials.every((t) => t.strategy === 'builtin'));
    assertOnlyValidTrials(run.spy.calls);
  } finally {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function assertOnlyValidTrials(calls: Record<string, unknown>[]): void {
  for (const c of calls) assert.deepEqual(replayGrid().space.validate(c), []);
}
