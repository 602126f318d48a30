/**
 * Speed and accuracy of every quantization type on the trained fixture model (test/fixtures/trained), on this
 * machine: real llama-quantize, llama-bench (pp512/tg128 × 3) and llama-perplexity with KL divergence against the F16
 * source over the whole built-in evaluation text. Writes bench/results/accuracy.md.
 *   npm run bench:accuracy
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeHardware, probeHardware } from '../src/core/hardware';
import { inspectModel } from '../src/core/model';
import { ProcessRunner } from '../src/core/process/runner';
import { builtinEvalText } from '../src/core/toolchains/llamacpp/accuracy';
import { locateTools, withToolInfo } from '../src/core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../src/core/toolchains/llamacpp/toolchain';

const MODEL = 'test/fixtures/trained/haqa-tiny-pystdlib-f16.gguf';

async function main() {
  const runner = new ProcessRunner({ mode: 'pipe' });
  const tools = locateTools();
  if (!tools) throw new Error('llama.cpp tools not found: run `node dist/cli.js toolchain build`');
  const hw = probeHardware();
  const info = await inspectModel(MODEL);
  const evalFile = builtinEvalText()!;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-acc-'));
  // 93 chunks = the whole evaluation text at 512 tokens.
  const tc = new LlamaCppToolchain(await withToolInfo(runner, tools), hw, info, {
    workload: { promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3 },
    cacheDir,
    accuracy: { evalFile, chunks: 93, ctx: 512 },
  });
  const rows: string[] = [];
  const t0 = Date.now();
  try {
    for (const quant of process.env.HAQA_BENCH_QUANTS?.split(',') ?? tc.space.knob('quant')!.values.map(String))
      for (const imatrix of quant === 'F16' ? ['none'] : ['none', 'builtin']) {
        const config = {
          ...tc.space.defaults(),
          quant,
          threads: hw.cpu.cores,
          imatrix,
          imatrix_chunks: imatrix === 'none' ? 32 : 128,
        };
        const out = await tc.runTrial(config, { runner, logDir: cacheDir, trialIndex: 1 });
        if (process.env.HAQA_BENCH_DEBUG && out.status !== 'done')
          process.stderr.write(
            fs
              .readdirSync(cacheDir)
              .map((f) =>
                f.endsWith('.log') ? `${f}:\n${fs.readFileSync(path.join(cacheDir, f), 'utf8').slice(-1500)}` : f,
              )
              .join('\n'),
          );
        const label = `${quant}${imatrix === 'none' ? '' : ' + imatrix'}`;
        if (out.status !== 'done') {
          rows.push(`| ${label} | failed: ${out.cause} | | | | | | |`);
          continue;
        }
        const m = out.metrics;
        const a = m.accuracy!;
        const f = (x: number | undefined, d: number) => (x === undefined ? '-' : x.toFixed(d));
        rows.push(
          `| ${label} | ${((m.fileSizeBytes ?? 0) / 2 ** 20).toFixed(2)} | ${m.decode!.mean.toFixed(0)} ± ${m.decode!.sd.toFixed(0)} | ${m.prefill!.mean.toFixed(0)} ± ${m.prefill!.sd.toFixed(0)} | ${a.dPplPct.toFixed(2)} ± ${a.dPplPctErr.toFixed(2)} | ${a.kld.toFixed(4)} ± ${a.kldErr.toFixed(4)} | ${f(a.kld99, 3)} | ${f(a.sameTopPct, 1)} |`,
        );
        process.stderr.write(`${rows[rows.length - 1]}\n`);
      }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  const text = [
    `Fixture ${path.basename(MODEL)} (${(info.parameterCount / 1e6).toFixed(1)}M parameters, F16 PPL on the evaluation text in the ΔPPL base); ${describeHardware(hw).split('\n')[0]}; ${hw.cpu.cores} threads, flash attention on, f16 KV; llama-bench pp512/tg128 × 3; llama-perplexity over the whole built-in evaluation text (93 chunks × 512 tokens) against the F16 logits; "+ imatrix": quantized with an importance matrix from llama-imatrix on the built-in calibration text (128 chunks × 512 tokens asked; other stdlib modules than the evaluation text). ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
    '',
    '| type | size MiB | decode t/s | prefill t/s | ΔPPL % | mean KLD | p99 KLD | same top token % |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync('bench/results/accuracy.md', `${text}\n`);
  process.stdout.write(`${text}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
