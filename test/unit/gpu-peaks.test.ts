import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { attachPeaks, parseSamples } from '../../bench/gpu-peaks';

test("a grid configuration's GPU peak is the rise over the idle GPU inside its own window, not its neighbours' loads", () => {
  // Two configurations, prefill then decode each (llama-bench's order); B's model loads just before B's first row.
  const row = (cfg: number, time: string, n_prompt: number, n_gen: number, avg_ts: number) => ({
    n_cpu_moe: cfg,
    n_prompt,
    n_gen,
    test_time: time,
    avg_ts,
    samples_ts: [avg_ts, avg_ts, avg_ts],
  });
  const rows = [
    row(0, '2026-11-30T17:00:10Z', 512, 0, 256), // 4 × 2 s
    row(0, '2026-11-30T17:00:19Z', 0, 128, 64), // 4 × 2 s
    row(8, '2026-11-30T17:00:30Z', 512, 0, 256),
    row(8, '2026-11-30T17:00:39Z', 0, 128, 64),
  ];
  const csv: string[] = [];
  const at = (s: number, mib: number) =>
    csv.push(
      `2026/11/30 17:00:${String(Math.floor(s)).padStart(2, '0')}.${String((s % 1) * 1000).padStart(3, '0')}, ${mib} MiB`,
    );
  for (let s = 0; s < 50; s += 0.25) {
    // idle 500; A holds 1500 from its load at 9 s to its end at 27 s; B's load (2500) from 28 s; idle again at 47 s.
    at(s, s < 9 ? 500 : s < 27 ? 1500 : s < 28 ? 500 : s < 47 ? 2500 : 500);
  }
  csv.push('garbage line');
  const samples = parseSamples(csv.join('\n'));
  assert.equal(samples.length, 200);
  const got = attachPeaks(rows, samples);
  assert.deepEqual(
    got.map((r) => r.peak_gpu_mib),
    [1000, 1000, 2000, 2000],
  );
  // Without samples in a window, no figure: never a guess.
  assert.deepEqual(
    attachPeaks(
      rows,
      samples.filter((s) => s.t < Date.parse('2026-11-30T17:00:29Z')),
    ).map((r) => r.peak_gpu_mib),
    [1000, 1000, undefined, undefined],
  );
});
