/**
 * Records a full CPU grid on this machine with llama-bench (its own JSONL rows) for the replay toolchain and
 * bench/search.ts:  npm run bench:grid -- [--out bench/data/cpu-grid.jsonl]
 * Model: the demo model (random weights; speed does not depend on weight values), every valid quant type.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeHardware } from '../src/core/hardware';
import { inspectModel } from '../src/core/model';
import { ProcessRunner } from '../src/core/process/runner';
import { ensureSource } from '../src/core/toolchains/llamacpp/build';
import { ensureTools } from '../src/core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../src/core/toolchains/llamacpp/toolchain';
import { validQuantTypes } from '../src/core/toolchains/llamacpp/space';
import { DEMO_SHAPE, writeDemoModel } from '../src/core/demoModel';
import { cacheRoot } from '../src/core/paths';
import { quantFromModelType } from '../src/core/ggml';

const WORKLOAD = { promptTokens: 256, genTokens: 128, depth: 0, repetitions: 3 };
/** The quant types the engine issue names; Q5_K_S and Q3_K_S are searched live but left out here to keep the grid ~12 min. */
const GRID_QUANTS = ['F16', 'Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_K_S', 'Q4_0', 'IQ4_XS', 'Q3_K_M', 'Q2_K'];

async function main() {
  const outIdx = process.argv.indexOf('--out');
  const out = path.resolve(outIdx > 0 ? process.argv[outIdx + 1] : 'bench/data/cpu-grid.jsonl');
  const runner = new ProcessRunner({ mode: 'pipe' });
  const tools = await ensureTools({ runner, onProgress: (m) => console.error(m) });
  const src = await ensureSource({ runner });
  const file = path.join(cacheRoot(), 'models', `haqa-demo-llama-h${DEMO_SHAPE.hidden}-l${DEMO_SHAPE.layers}.gguf`);
  if (!fs.existsSync(file)) await writeDemoModel(file, path.join(src.dir, 'models', 'ggml-vocab-llama-spm.gguf'));
  const model = await inspectModel(file);
  const hw = probeHardware();
  const tc = new LlamaCppToolchain(tools, hw, model, { workload: WORKLOAD });
  const files: string[] = [];
  for (const q of validQuantTypes(model).filter((x) => GRID_QUANTS.includes(x))) {
    const a = await tc.artifactFor({ quant: q });
    if (a.needsQuantize) {
      const r = await runner.run([tools.quantize, model.path, a.file, q, String(hw.cpu.threads)]);
      if (r.exitCode !== 0) throw new Error(`quantize ${q} failed`);
    }
    files.push(a.file);
  }
  const threads = [...new Set([1, hw.cpu.cores, hw.cpu.threads])].join(',');
  const common = [
    '-m',
    files.join(','),
    '-p',
    String(WORKLOAD.promptTokens),
    '-n',
    String(WORKLOAD.genTokens),
    '-r',
    String(WORKLOAD.repetitions),
    '-t',
    threads,
    '-b',
    '2048',
    '-ub',
    '128,512',
    '-ngl',
    '0',
    '-o',
    'jsonl',
  ];
  const runs = [
    [...common, '-fa', 'off', '-ctk', 'f16,q8_0,q4_0', '-ctv', 'f16'],
    [...common, '-fa', 'on', '-ctk', 'f16,q8_0,q4_0', '-ctv', 'f16,q8_0,q4_0'],
  ];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, '');
  const t0 = Date.now();
  for (const args of runs) {
    const r = await runner.run([tools.bench, ...args], { onData: (d) => process.stderr.write(d) });
    if (r.exitCode !== 0) throw new Error(`llama-bench failed: ${r.outputTail.slice(-2000)}`);
    // Keep rows machine-independent of the cache path: the model file name is enough to identify the quant.
    const rows = r.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        const o = JSON.parse(l);
        o.model_filename = `haqa-demo-llama-h512-l4-${quantFromModelType(o.model_type)}.gguf`;
        return JSON.stringify(o);
      });
    fs.appendFileSync(out, `${rows.join('\n')}\n`);
  }
  console.error(`recorded ${out} in ${Math.round((Date.now() - t0) / 1000)} s`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
