/**
 * The LLM agent driving the real toolchain: the scripted OpenAI-protocol server proposes hostile configurations and
 * then a valid one; only the valid one may reach llama-quantize / llama-bench, and only as argv values.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { DEFAULT_LLM } from '../../src/core/agent/settings';
import { writeDemoModel } from '../../src/core/demoModel';
import { probeHardware } from '../../src/core/hardware';
import { inspectModel } from '../../src/core/model';
import { ProcessRunner } from '../../src/core/process/runner';
import { runOptimize } from '../../src/core/session';
import { SessionStore } from '../../src/core/store';
import { resolveStrategy } from '../../src/core/strategies';
import { ensureSource } from '../../src/core/toolchains/llamacpp/build';
import { locateTools, withToolInfo } from '../../src/core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../../src/core/toolchains/llamacpp/toolchain';
import { OpenAiTestServer, systemMessage } from '../helpers/openaiServer';
import { replyJson } from '../helpers/agent';
import { tmpDir } from '../helpers/fixtures';

let model = '';
const server = new OpenAiTestServer(() => ({ content: '' }));

before(async () => {
  assert.ok(locateTools(), 'llama.cpp tools not found: run `node dist/cli.js toolchain build` (as .ci/run does) first');
  const src = await ensureSource({ runner: new ProcessRunner({ mode: 'pipe' }) });
  model = path.join(tmpDir(), 'agent.gguf');
  await writeDemoModel(model, path.join(src.dir, 'models', 'ggml-vocab-llama-spm.gguf'), { hidden: 256, layers: 2, ffn: 768, heads: 4, headsKv: 4, context: 512 });
  await server.start();
});
after(() => server.stop());

test('agent on the real toolchain: hostile proposals never become processes; the valid one runs as plain argv values', async () => {
  const dir = tmpDir();
  const runner = new ProcessRunner({ mode: 'pipe' });
  const started: string[][] = [];
  runner.subscribe((e) => { if (e.type === 'start') started.push(e.argv); });
  const hw = probeHardware();
  const info = await inspectModel(model);
  const tools = await withToolInfo(runner, locateTools()!);
  const tc = new LlamaCppToolchain(tools, hw, info, { workload: { promptTokens: 32, genTokens: 8, depth: 0, repetitions: 1 }, cacheDir: dir });
  const good = { ...tc.space.defaults(), quant: 'Q4_0', threads: 1 };
  const hostile = [
    { config: { ...good, quant: 'Q4_0 --output /etc/passwd' } },
    { config: { ...good, threads: '1; touch /tmp/haqa-pwned' } },
    { config: { ...good, quant: '$(touch /tmp/haqa-pwned)' } },
    { config: { ...good, model: '/etc/shadow' } },
  ];
  server.setResponder((_r, n) => ({ content: n === 0 ? replyJson(hostile) : replyJson([{ config: good, rationale: 'simple 4-bit blocks' }]) }));
  const store = SessionStore.create(dir, { options: {}, strategy: { requested: 'llm', used: 'llm' } });
  const s = await runOptimize({
    toolchain: tc, hardware: hw, model: info, objective: { kind: 'decode' }, budget: 1, seed: 0, store, runner,
    strategy: resolveStrategy('llm', { llm: { ...DEFAULT_LLM, baseUrl: server.url, model: 'scripted', proposalsPerCall: 4 } }),
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
    for (const a of argv) assert.ok(!/[;$`|&]|passwd|shadow|pwned/.test(a), `suspicious argument reached a process: ${JSON.stringify(argv)}`);
  }
  const bench = started.find((a) => a.some((x) => x.endsWith('llama-bench')))!;
  assert.equal(bench[bench.indexOf('-t') + 1], '1');
});
