/**
 * Adds each configuration's GPU memory peak to a recorded llama-bench grid, from nvidia-smi samples taken beside it:
 *
 *   nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader -lms 250 > vram.csv &   # then the grid's runs
 *   npm run bench:gpu-peaks -- grid.jsonl vram.csv > grid-with-peaks.jsonl
 *
 * llama-bench writes no memory figure. Its rows of one configuration (prefill and decode) run one after another on
 * one context, and each row's test_time is when its test began (whole seconds, after the model load and the context's
 * allocation). A configuration's peak is the most memory in use from a second after its first row began to its last
 * row's modeled end (repetitions + warm-up at the recorded speed, the depth filled at the prefill speed), less the idle
 * GPU (the least any sample shows): the same rise over the idle GPU that a real trial's peak is (gpuPeaks). The window
 * starts a second late and ends early so that neither the previous configuration's release nor the next one's load
 * falls inside it. The figure lands on every row of the configuration as `peak_gpu_mib` (BenchRow).
 */
import * as fs from 'node:fs';
import { rowSeconds } from '../src/core/toolchains/llamacpp/bench';

export interface Sample {
  t: number;
  mib: number;
}

/** nvidia-smi's `timestamp, memory.used` CSV lines ("2026/11/30 17:01:02.123, 1234 MiB"), taken as UTC. */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?),\s*(\d+)\s*MiB/.exec(line.trim());
    if (m) out.push({ t: Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}Z`), mib: Number(m[5]) });
  }
  return out;
}

type Row = Record<string, unknown> & {
  test_time?: string;
  avg_ts?: number;
  n_prompt?: number;
  n_gen?: number;
  n_depth?: number;
  samples_ts?: number[];
};

/** The row's fields that make its configuration (all but what differs between a configuration's tests and results). */
const NOT_CONFIG = new Set([
  'n_prompt',
  'n_gen',
  'n_depth',
  'test_time',
  'avg_ns',
  'stddev_ns',
  'avg_ts',
  'stddev_ts',
  'samples_ns',
  'samples_ts',
  'peak_gpu_mib',
]);
const configOf = (r: Row) =>
  JSON.stringify(
    Object.keys(r)
      .filter((k) => !NOT_CONFIG.has(k))
      .sort()
      .map((k) => [k, r[k]]),
  );

/** The grid's rows with `peak_gpu_mib` on those whose configuration has samples inside its window. */
export function attachPeaks(rows: Row[], samples: Sample[]): Row[] {
  if (!samples.length) return rows;
  const idle = Math.min(...samples.map((s) => s.mib));
  const out = rows.map((r) => ({ ...r }));
  for (let i = 0; i < out.length;) {
    let j = i;
    while (j + 1 < out.length && configOf(out[j + 1]) === configOf(out[i])) j++;
    const group = out.slice(i, j + 1);
    const pp = group.find((r) => Number(r.n_prompt) > 0 && Number(r.avg_ts) > 0)?.avg_ts;
    const start = Date.parse(String(group[0].test_time)) + 1000;
    const last = group[group.length - 1];
    const end = Date.parse(String(last.test_time)) + 800 * rowSeconds(last, pp);
    const inside = samples.filter((s) => s.t >= start && s.t <= end).map((s) => s.mib);
    if (inside.length && Number.isFinite(start)) for (const r of group) r.peak_gpu_mib = Math.max(...inside) - idle;
    i = j + 1;
  }
  return out;
}

function main() {
  const [grid, csv] = process.argv.slice(2);
  if (!grid || !csv) {
    process.stderr.write('usage: npm run bench:gpu-peaks -- GRID.jsonl VRAM.csv > OUT.jsonl\n');
    process.exit(2);
  }
  const rows = fs
    .readFileSync(grid, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Row);
  const withPeaks = attachPeaks(rows, parseSamples(fs.readFileSync(csv, 'utf8')));
  const missing = withPeaks.filter((r) => r.peak_gpu_mib === undefined).length;
  if (missing) process.stderr.write(`${missing} of ${rows.length} rows have no sample inside their window\n`);
  process.stdout.write(withPeaks.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

if (require.main === module) main();
