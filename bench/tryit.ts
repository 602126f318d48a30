/**
 * `npm run bench:tryit`: does the benchmark figure hold when the configuration is served? For a few quantization types
 * of the trained fixture: llama-bench's decode t/s (the trial, 128 generated tokens, 3 repetitions) vs llama-server's
 * own timing of one 128-token completion ("Try it"), 3 servings each. Medians, one run, this machine.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { probeHardware } from '../src/core/hardware';
import { inspectModel } from '../src/core/model';
import { ProcessRunner } from '../src/core/process/runner';
import { locateTools, withToolInfo } from '../src/core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../src/core/toolchains/llamacpp/toolchain';
import { tryIt } from '../src/core/toolchains/llamacpp/tryIt';
import { FIXTURES, tmpDir } from '../test/helpers/fixtures';

const MODEL = path.join(FIXTURES, 'trained', 'haqa-tiny-pystdlib-f16.gguf');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const runner = new ProcessRunner({ mode: 'pipe' });
  const found = locateTools();
  if (!found?.server)
    throw new Error('llama.cpp tools with llama-server are missing: node dist/cli.js toolchain build');
  const tools = await withToolInfo(runner, found);
  const hw = probeHardware();
  const workload = { promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3 };
  const tc = new LlamaCppToolchain(tools, hw, await inspectModel(MODEL), { workload });
  console.log(
    `fixture ${path.basename(MODEL)}, llama.cpp ${tools.commit?.slice(0, 7)} ${tools.backend}, ${os.cpus()[0]?.model} × ${os.cpus().length}; defaults of the space otherwise`,
  );
  console.log(
    '| type | llama-bench decode t/s (tg128, 3 reps) | llama-server t/s (128 tokens, median of 3) | server / bench |',
  );
  console.log('|---|---|---|---|');
  for (const quant of ['Q8_0', 'Q4_K_M', 'Q4_0']) {
    const config = { ...tc.space.defaults(), quant };
    const out = await tc.runTrial(config, { runner, logDir: tmpDir(), trialIndex: 1 });
    if (out.status !== 'done' || !out.metrics.decode) throw new Error(`${quant}: ${out.status} ${out.cause}`);
    const file = (await tc.artifactFor(config)).file;
    const served: number[] = [];
    for (let i = 0; i < 3; i++)
      served.push(
        (await tryIt({ runner, serverBin: tools.server!, modelFile: file, config, workload, tokens: 128 }))
          .decodeTokensPerSecond,
      );
    const s = median(served);
    console.log(
      `| ${quant} | ${out.metrics.decode.mean.toFixed(1)} ± ${out.metrics.decode.sd.toFixed(1)} | ${s.toFixed(1)} (${served.map((x) => x.toFixed(1)).join(', ')}) | ${(s / out.metrics.decode.mean).toFixed(2)} |`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
