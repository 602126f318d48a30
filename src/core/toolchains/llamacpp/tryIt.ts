/**
 * "Try it": serve the accepted configuration with llama-server on a free loopback port, wait for /health, send one
 * completion, read the server's own timings and stop it. Runs through the ProcessRunner like every other tool, so its
 * output reaches the live terminal and it stops with the signal.
 */
import * as net from 'node:net';
import { HaqaError, errorMessage } from '../../errors';
import type { ProcessRunner, RunResult } from '../../process/runner';
import type { Config, Workload } from '../../types';
import { serverArgv } from './deploy';

export interface TryItResult {
  port: number;
  /** Generated tokens per second as llama-server timed them. */
  decodeTokensPerSecond: number;
  promptTokensPerSecond?: number;
  tokens: number;
  text: string;
  startupMs: number;
}

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function tryIt(o: {
  runner: ProcessRunner;
  serverBin: string;
  modelFile: string;
  config: Config;
  workload: Workload;
  /** The model's training context: the most -c llama-server serves (deploy.ts contextFor). */
  trainedContext?: number;
  prompt?: string;
  tokens?: number;
  startupTimeoutMs?: number;
  signal?: AbortSignal;
  logFile?: string;
}): Promise<TryItResult> {
  const port = await freeLoopbackPort();
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const argv = serverArgv(o.serverBin, o.modelFile, o.config, o.workload, port, o.trainedContext);
  let exited: RunResult | undefined;
  const running = o.runner.run(argv, { signal: stop.signal, logFile: o.logFile }).then((r) => {
    exited = r;
    return r;
  });
  const base = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  try {
    const deadline = t0 + (o.startupTimeoutMs ?? 120_000);
    for (;;) {
      if (o.signal?.aborted) throw new HaqaError('Try it was cancelled', 'run it again when you are ready', 'input');
      if (exited) {
        const tail = exited.outputTail.trim().split('\n').slice(-3).join(' | ');
        throw new HaqaError(
          `llama-server exited before it was ready (exit ${exited.exitCode ?? exited.signal}): ${tail}`,
          'see the HAQA terminal for its output; check the model file and the configuration',
          'toolchain',
        );
      }
      if (Date.now() > deadline)
        throw new HaqaError(
          `llama-server did not report healthy within ${Math.round((deadline - t0) / 1000)} s`,
          'see the HAQA terminal; a large model may need longer to load',
          'toolchain',
        );
      try {
        const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
        if (r.ok) break;
      } catch {
        /* not listening yet */
      }
      await sleep(200);
    }
    const startupMs = Date.now() - t0;
    let body: {
      content?: string;
      timings?: { predicted_per_second?: number; prompt_per_second?: number; predicted_n?: number };
    };
    try {
      const r = await fetch(`${base}/completion`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        signal: o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(120_000)]) : AbortSignal.timeout(120_000),
        body: JSON.stringify({
          prompt: o.prompt ?? 'def fibonacci(n):\n',
          n_predict: o.tokens ?? 64,
          temperature: 0,
          cache_prompt: false,
          ignore_eos: true,
        }),
      });
      if (!r.ok) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`);
      body = (await r.json()) as typeof body;
    } catch (e) {
      throw new HaqaError(
        `the completion request to llama-server failed: ${errorMessage(e)}`,
        "see the HAQA terminal for the server's output",
        'toolchain',
      );
    }
    const tps = body.timings?.predicted_per_second;
    if (typeof tps !== 'number' || !Number.isFinite(tps))
      throw new HaqaError(
        'llama-server answered without timings',
        'use a llama.cpp build whose server reports timings (any since 2024)',
        'toolchain',
      );
    return {
      port,
      decodeTokensPerSecond: tps,
      promptTokensPerSecond: body.timings?.prompt_per_second,
      tokens: body.timings?.predicted_n ?? 0,
      text: body.content ?? '',
      startupMs,
    };
  } finally {
    stop.abort();
    await running;
    o.signal?.removeEventListener('abort', onOuterAbort);
  }
}
