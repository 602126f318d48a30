import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { attachPeaks, parseSamples } from '../../bench/gpu-peaks';
import { rowSeconds } from '../../src/core/toolchains/llamacpp/bench';

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

test('a depth llama-bench has cached is not filled again: a configuration a second long gets its own peak', () => {
  // Recorded on the H200 (bench/data/moe-grid-h200-d8192.*): Q4_0 with 0, 2 and 4 layers' experts on the CPU, pp512
  // and tg64 at depth 8192, f16 KV, flash attention; llama-bench filled the depth once for all of them.
  const row = (moe: number, time: string, n_prompt: number, n_gen: number, avg_ts: number) => ({
    n_cpu_moe: moe,
    n_prompt,
    n_gen,
    n_depth: 8192,
    type_k: 'f16',
    type_v: 'f16',
    flash_attn: 1,
    test_time: time,
    avg_ts,
    samples_ts: [avg_ts, avg_ts, avg_ts],
  });
  const rows = [
    row(0, '2026-11-30T22:00:44Z', 512, 0, 27700),
    row(0, '2026-11-30T22:00:44Z', 0, 64, 1026),
    row(2, '2026-11-30T22:00:45Z', 512, 0, 15316),
    row(2, '2026-11-30T22:00:45Z', 0, 64, 700),
    row(4, '2026-11-30T22:00:46Z', 512, 0, 10143),
    row(4, '2026-11-30T22:00:46Z', 0, 64, 570),
  ];
  const csv = [
    ['43.547', 0],
    ['43.798', 22],
    ['44.073', 2391],
    ['44.323', 2565],
    ['44.574', 2565],
    ['44.824', 2443],
    ['45.074', 2443],
    ['45.324', 1699],
    ['45.575', 2417],
    ['45.825', 2295],
    ['46.078', 2295],
    ['46.329', 2267],
    ['46.579', 2267],
    ['46.829', 2145],
  ].map(([t, m]) => `2026/11/30 22:00:${t}, ${m} MiB`);
  // Each decode row: 4 × 64 tokens, no depth fill (cached from the row before); the prefill row before it filled none
  // either but the first, which paid 8192 tokens at its prefill speed.
  assert.equal(rowSeconds(rows[1], 27700, rows[0]), (4 * 64) / 1026);
  assert.equal(rowSeconds(rows[0], 27700), (4 * 512) / 27700 + 8192 / 27700);
  assert.equal(rowSeconds(rows[0], 27700, { ...rows[1], type_k: 'q8_0' }), (4 * 512) / 27700 + 8192 / 27700);
  assert.equal(rowSeconds(rows[0], 27700, { ...rows[1], flash_attn: 0 }), (4 * 512) / 27700 + 8192 / 27700);
  // Each configuration's peak is its own prefill level: 2565, 2417, 2267. Counting a depth fill per repetition put the
  // first window's end in the next second and missed 2565; and the first sample after a stamp cut to the second can
  // still be the previous configuration's last level (2443 at 45.074, 2295 at 46.078), which goes on from the sample
  // before the stamp and so is left out.
  assert.deepEqual(
    attachPeaks(rows, parseSamples(csv.join('\n'))).map((r) => r.peak_gpu_mib),
    [2565, 2565, 2417, 2417, 2267, 2267],
  );
});
