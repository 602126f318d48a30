import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { priorQuantizeSeconds } from '../../src/core/cost';
import { PRIOR_BENCH_SECONDS, confirmationRuns, estimateSession } from '../../src/core/estimate';
import { dpplStepText, sizeStepText, trialsStepPrompt } from '../../src/extension/optimizeHints';

const GB = 1e9;

test('the estimate is the benchmarks, one to a new file per trial at the prior quantize rate, and confirmation', () => {
  const e = estimateSession({
    sourceBytes: 1.1 * GB,
    cores: 2,
    trials: 6,
    quantizes: true,
    confirm: true,
    accuracy: true,
  });
  const q = priorQuantizeSeconds(1.1 * GB, 2, 'Q4_K_M');
  // 1.1 GB at 55 MB per core-second on 2 cores = 10 s for Q4_0; a K-type (Q4_K_M) does 3.4 times the work.
  assert.ok(Math.abs(q - 34) < 0.01, String(q));
  const bench = 6 * PRIOR_BENCH_SECONDS;
  const confirm = 8 * PRIOR_BENCH_SECONDS; // 2 rounds × (3 candidates + the anchor)
  assert.equal(e.lowSeconds, bench + q + confirm);
  assert.equal(e.highSeconds, bench + 6 * q + confirm);
  assert.equal(e.range, 'about 2.9–5.7 min');
  assert.match(
    e.how,
    /^6 benchmarks at 10 s \(the prior before one is measured\) \+ 1 to 6 new quantized files at 34 s each/,
  );
  assert.match(
    e.how,
    /on 2 cores\) \+ 8 confirmation benchmarks; accuracy runs come on top; a large model benchmarks longer$/,
  );
});

test('an already-quantized source makes no files; no confirmation without it or below two trials; a time budget caps the search', () => {
  const q = estimateSession({
    sourceBytes: 4 * GB,
    cores: 8,
    trials: 12,
    quantizes: false,
    confirm: false,
    accuracy: false,
  });
  assert.equal(q.lowSeconds, 12 * PRIOR_BENCH_SECONDS);
  assert.equal(q.highSeconds, q.lowSeconds);
  assert.equal(q.range, 'about 2.0 min');
  assert.doesNotMatch(q.how, /quantized file|confirmation|accuracy/);
  assert.equal(confirmationRuns(1), 0);
  assert.equal(confirmationRuns(2), 6);
  assert.equal(confirmationRuns(40), 8);
  const capped = estimateSession({
    sourceBytes: 16 * GB,
    cores: 2,
    trials: 40,
    quantizes: true,
    confirm: true,
    accuracy: false,
    timeBudgetMin: 10,
  });
  assert.equal(capped.highSeconds, 10 * 60 + 8 * PRIOR_BENCH_SECONDS);
  assert.match(capped.how, /the time budget stops the search after 10 min$/);
  // More trials never take less time.
  const one = estimateSession({ sourceBytes: GB, cores: 4, trials: 1, quantizes: true, confirm: true, accuracy: true });
  const two = estimateSession({ sourceBytes: GB, cores: 4, trials: 2, quantizes: true, confirm: true, accuracy: true });
  assert.ok(two.lowSeconds > one.lowSeconds && two.highSeconds > one.highSeconds);
  assert.match(one.how, /one new quantized file at /);
});

test("the Optimize steps' words come from the model: its size and what Q8_0 and Q4_0 weigh, what ΔPPL limits mean, the estimate", () => {
  const f16 = { fileType: 'F16', sizeBytes: 11114368, parameterCount: 5.5e6 };
  const size = sizeStepText(f16);
  assert.equal(size.placeholder, 'no limit (the F16 source is 10.6 MiB)');
  // 5.5M weights × 8.5 bits = 5.6 MiB; × 4.5 bits = 3.0 MiB.
  assert.match(size.prompt, /The F16 source is 10\.6 MiB; about 5\.6 MiB at Q8_0 and 3\.0 MiB at Q4_0/);
  const quantized = sizeStepText({ fileType: 'Q4_K_M', sizeBytes: 4.5 * 2 ** 30, parameterCount: 7e9 });
  assert.match(
    quantized.prompt,
    /already Q4_K_M: only runtime knobs are searched, so every trial's file is the source's 4608 MiB/,
  );
  const d = dpplStepText();
  assert.match(d.placeholder, /no limit/);
  assert.match(d.prompt, /1 %: close to the source/);
  assert.match(d.prompt, /5 %: a noticeable loss/);
  const e = estimateSession({
    sourceBytes: 11114368,
    cores: 2,
    trials: 6,
    quantizes: true,
    confirm: true,
    accuracy: true,
  });
  assert.match(trialsStepPrompt(6, e), /^6 trials: about 2\.3–2\.4 min \(6 benchmarks at 10 s/);
  assert.match(trialsStepPrompt(1, e), /^1 trial: /);
});
