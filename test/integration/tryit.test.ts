/** "Try it" on the real llama-server: one completion on a free port, and a broken model named as the cause. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeHardware } from '../../src/core/hardware';
import { inspectModel } from '../../src/core/model';
import { ProcessRunner } from '../../src/core/process/runner';
import { locateTools } from '../../src/core/toolchains/llamacpp/locate';
import { llamaCppSpace } from '../../src/core/toolchains/llamacpp/space';
import { tryIt } from '../../src/core/toolchains/llamacpp/tryIt';
import { DEFAULT_WORKLOAD } from '../../src/core/types';
import { FIXTURES, tmpDir } from '../helpers/fixtures';

const MODEL = path.join(FIXTURES, 'trained', 'haqa-tiny-pystdlib-f16.gguf');

test('Try it serves the model with llama-server, measures one completion and leaves no server behind', async () => {
  const tools = locateTools()!;
  assert.ok(tools.server, 'llama-server missing from the build');
  const config = llamaCppSpace(probeHardware(), await inspectModel(MODEL)).defaults();
  const runner = new ProcessRunner({ mode: 'pipe' });
  const argvs: string[][] = [];
  runner.subscribe((e) => {
    if (e.type === 'start') argvs.push(e.argv);
  });
  const r = await tryIt({
    runner,
    serverBin: tools.server,
    modelFile: MODEL,
    config,
    workload: DEFAULT_WORKLOAD,
    tokens: 16,
  });
  assert.ok(r.decodeTokensPerSecond > 0);
  assert.equal(r.tokens, 16);
  assert.equal(argvs.length, 1);
  assert.deepEqual(argvs[0].slice(-4), ['--host', '127.0.0.1', '--port', String(r.port)]);
  await assert.rejects(fetch(`http://127.0.0.1:${r.port}/health`), 'the server is still up');
});

test('Try it on a broken model file says llama-server exited and why, instead of waiting', async () => {
  const tools = locateTools()!;
  const bad = path.join(tmpDir(), 'truncated.gguf');
  fs.writeFileSync(bad, fs.readFileSync(MODEL).subarray(0, 4096));
  const config = llamaCppSpace(probeHardware(), await inspectModel(MODEL)).defaults();
  const t0 = Date.now();
  await assert.rejects(
    tryIt({
      runner: new ProcessRunner({ mode: 'pipe' }),
      serverBin: tools.server!,
      modelFile: bad,
      config,
      workload: DEFAULT_WORKLOAD,
    }),
    (e: Error & { fix?: string }) => /llama-server exited before it was ready/.test(e.message) && !!e.fix,
  );
  assert.ok(Date.now() - t0 < 60_000);
});
