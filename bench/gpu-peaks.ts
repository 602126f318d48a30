/**
 * Adds each configuration's GPU memory peak to a recorded llama-bench grid, from nvidia-smi samples taken beside it:
 *
 *   nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader -lms 250 > vram.csv &   # then the grid's runs
 *   npm run bench:gpu-peaks -- grid.jsonl vram.csv > grid-with-peaks.jsonl
 *
 * llama-bench writes no memory figure. Its rows of one configuration (prefill and decode) run one after another, and
 * each row's test_time is when its test began, cut down to the whole second, after the model's load and the context's
 * allocation. A configuration's peak is the most memory in use from its first row's stamp until the next
 * configuration's stamp or its own last row's modeled end, whichever comes first (the last row's start is within a
 * second after its stamp; its repetitions and warm-up at the recorded speed, its depth filled at the prefill speed
 * unless llama-bench had it cached: rowSeconds), less the idle GPU (the least any sample shows): the same rise over the
 * idle GPU that a real trial's peak is (gpuPeaks). A configuration that shares its stamp's second with the next one
 * gets that second. Stamps in whole seconds make the window open up to a second early, on the previous configuration's
 * tail: the leading samples at exactly the level of the last sample before the stamp, if another level follows within
 * the second, are left out. What is left is an
 * upper bound where configurations last about a second (BENCHMARKS.md says how often a neighbour's level may remain).
 * The figure lands on every row of the configuration as `peak_gpu_mib`.
 */
import * as fs from 'node:fs';
import { depthStateBefore, rowSeconds } from '../src/core/toolchains/llamacpp/bench';

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
    const start = Date.parse(String(group[0].test_time));
    const lastAt = Date.parse(String(out[j].test_time));
    // test_time is whole seconds, cut down: the last row ran from within a second after its stamp for its modeled
    // time, and the next configuration's stamp (its load and context already done) closes the window before it.
    const stamp = j + 1 < out.length ? Date.parse(String(out[j + 1].test_time)) : NaN;
    const next = Number.isFinite(stamp) ? stamp : Infinity;
    const modeledEnd = lastAt + 1000 + 1000 * rowSeconds(out[j], pp, depthStateBefore(out, j));
    // Sharing the last row's second with the next configuration: that second; a next stamp out of order (files joined
    // from several calls): the modeled end alone.
    const end = next === lastAt ? lastAt + 1000 : next > lastAt ? Math.min(next, modeledEnd) : modeledEnd;
    let inside = samples.filter((s) => s.t >= start && s.t < end);
    // The stamp is cut to the second, so the window can open on the previous configuration's last level: leading
    // samples within the first second that go on at exactly the level of the last sample before the window, and give
    // way to another level inside that second, are its tail (an allocation's MiB figure does not repeat by chance); a
    // level that lasts past the second is this configuration's own, loaded before its stamp.
    const before = samples.filter((s) => s.t < start).pop()?.mib;
    const lead = inside.findIndex((s) => s.mib !== before);
    if (before !== undefined && lead > 0 && inside[lead].t < start + 1000) inside = inside.slice(lead);
    if (inside.length && Number.isFinite(start))
      for (const r of group) r.peak_gpu_mib = Math.max(...inside.map((x) => x.mib)) - idle;
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
