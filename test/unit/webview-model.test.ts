import { test } from 'node:test';
import { shortConfig } from '../../src/core/format';
import * as assert from 'node:assert/strict';
import {
  applyHostMessage,
  cancelOverride,
  chartMetric,
  chartPoints,
  chartSpecs,
  chartYTitle,
  chartedTrials,
  columns,
  comparisonLabel,
  configLabel,
  controlsShown,
  dpplErr,
  errorBarNote,
  initialModel,
  limitViolations,
  markOf,
  nextSort,
  sortable,
  invalidKnobs,
  overrideChoices,
  parseOverride,
  pointLabel,
  proposalComparisons,
  shownStatus,
  toggleAllKnobs,
  rowWindow,
  sendOverride,
  sizeMiB,
  sortBy,
  sortedTrials,
  spacerHeights,
  startOverride,
  type Redraw,
  type ViewModel,
  contrast,
  hexColour,
  legible,
  parseColour,
  type Rgb,
} from '../../webview/model';
import type { HostMessage, SessionState } from '../../webview/protocol';
import type { TrialMetrics, TrialRecord, TrialStatus } from '../../src/core/types';

const MiB = 2 ** 20;

function trial(
  index: number,
  m: { decode?: number; prefill?: number; sizeMiB?: number; dppl?: number; kld?: number } = {},
  status: TrialStatus = 'done',
): TrialRecord {
  const metrics: TrialMetrics = {};
  if (m.decode !== undefined) metrics.decode = { mean: m.decode, sd: 0.1, n: 3 };
  if (m.prefill !== undefined) metrics.prefill = { mean: m.prefill, sd: 1, n: 3 };
  if (m.sizeMiB !== undefined) metrics.fileSizeBytes = m.sizeMiB * MiB;
  if (m.dppl !== undefined || m.kld !== undefined) metrics.accuracy = { dPplPct: m.dppl ?? 0, kld: m.kld ?? 0 };
  return {
    type: 'trial',
    index,
    key: `k${index}`,
    config: { quant: 'Q4_K_M', threads: 4 },
    status,
    metrics,
    strategy: 'grid',
    startedAt: '',
    endedAt: '',
    durationMs: 0,
  };
}

function session(over: Partial<SessionState> = {}): SessionState {
  return {
    sessionId: 's1',
    root: '/w/.haqa',
    model: 'tiny',
    hardware: 'cpu',
    toolchain: 'llama.cpp',
    objective: 'maximise decode t/s',
    objectiveKind: 'decode',
    strategy: 'grid',
    status: 'running',
    review: 'each',
    live: true,
    budget: 10,
    trials: [],
    tied: [],
    pareto: [],
    knobs: [
      { name: 'quant', values: ['Q4_K_M', 'Q8_0'], meaning: 'weight type', stage: 'quantize' },
      { name: 'threads', values: [2, 4], meaning: 'CPU threads', stage: 'runtime' },
    ],
    limits: {},
    ...over,
  };
}

const apply = (model: ViewModel, ...messages: HostMessage[]) =>
  messages.reduce((acc, m) => applyHostMessage(acc.model, m), { model, redraw: 'none' as Redraw });

test('a sequence of host messages: state → trial → pending → override-result → status', () => {
  const start = initialModel({ sessionId: '', root: '', sort: { column: 'decode', descending: true } });
  const s = session({ trials: [trial(1, { decode: 10 })], best: 1, pareto: [1] });

  let r = applyHostMessage(start, { type: 'state', state: s });
  assert.equal(r.redraw, 'all');
  assert.equal(r.model.state, s);
  assert.deepEqual(r.model.persisted, {
    sessionId: 's1',
    root: '/w/.haqa',
    sort: { column: 'decode', descending: true },
  });
  assert.notEqual(r.model.persisted, start.persisted, 'a new persisted object: the view saves it');

  // A new trial is appended; a trial with a known index replaces it; best and Pareto come with it.
  r = apply(
    r.model,
    { type: 'trial', trial: trial(2, { decode: 12 }), best: 2, tied: [], pareto: [1, 2] },
    { type: 'trial', trial: trial(1, { decode: 11 }, 'infeasible'), best: 2, tied: [], pareto: [2] },
  );
  assert.equal(r.redraw, 'trials');
  assert.deepEqual(
    r.model.state!.trials.map((t) => [t.index, t.status, t.metrics.decode?.mean]),
    [
      [1, 'infeasible', 11],
      [2, 'done', 12],
    ],
  );
  assert.equal(r.model.state!.best, 2);
  assert.deepEqual(r.model.state!.pareto, [2]);
  assert.equal(s.trials.length, 1, 'the previous state is not changed');
  assert.equal(s.trials[0].metrics.decode?.mean, 10);

  // A proposal arrives; the user opens the override form; the host refuses the override.
  r = applyHostMessage(r.model, { type: 'pending', pending: { id: 3, config: { quant: 'Q8_0', threads: 2 } } });
  assert.equal(r.redraw, 'pending');
  assert.equal(r.model.state!.pending?.id, 3);
  const overriding = startOverride(r.model);
  assert.equal(overriding.overriding, true);
  r = applyHostMessage(overriding, {
    type: 'override-result',
    id: 3,
    ok: false,
    reasons: ['ubatch-not-above-batch: ubatch 512 > batch 256'],
  });
  assert.equal(r.redraw, 'pending');
  assert.equal(r.model.overriding, true, 'the form stays open with the reasons');
  assert.deepEqual(r.model.overrideReasons, ['ubatch-not-above-batch: ubatch 512 > batch 256']);
  assert.deepEqual(cancelOverride(r.model).overrideReasons, []);
  assert.equal(cancelOverride(r.model).overriding, false);

  // An accepted override clears the reasons without a redraw; the next pending closes the form.
  const ok = applyHostMessage(r.model, { type: 'override-result', id: 3, ok: true, reasons: [] });
  assert.equal(ok.redraw, 'none');
  assert.deepEqual(ok.model.overrideReasons, []);
  r = applyHostMessage(r.model, { type: 'pending', pending: undefined });
  assert.equal(r.model.overriding, false);
  assert.deepEqual(r.model.overrideReasons, []);
  assert.equal(r.model.state!.pending, undefined);

  // Paused, then stopped: `live` follows the status field; a status without a reason keeps the last one.
  r = applyHostMessage(r.model, { type: 'status', status: 'paused', review: 'auto', stopReason: 'paused by you' });
  assert.equal(r.redraw, 'header');
  assert.equal(r.model.state!.status, 'paused');
  assert.equal(r.model.state!.review, 'auto');
  assert.equal(r.model.state!.live, true);
  assert.deepEqual(controlsShown(r.model.state!), { pause: false, resume: true, stop: true });
  r = applyHostMessage(r.model, { type: 'status', status: 'stopped', review: 'auto' });
  assert.equal(r.model.state!.live, false);
  assert.equal(r.model.state!.stopReason, 'paused by you');
  // Stopped, interrupted (a restored panel: idle), failed: Resume carries it on; completed: nothing to do.
  assert.deepEqual(controlsShown(r.model.state!), { pause: false, resume: true, stop: false });
  for (const status of ['idle', 'failed'] as const)
    assert.deepEqual(controlsShown({ ...r.model.state!, status }), { pause: false, resume: true, stop: false });
  assert.deepEqual(controlsShown({ ...r.model.state!, status: 'completed' }), {
    pause: false,
    resume: false,
    stop: false,
  });
  r = applyHostMessage(r.model, { type: 'status', status: 'running', review: 'each' });
  assert.deepEqual(controlsShown(r.model.state!), { pause: true, resume: false, stop: true });

  r = applyHostMessage(r.model, {
    type: 'running',
    running: { index: 4, config: { quant: 'Q8_0' }, message: 'bench' },
  });
  assert.equal(r.redraw, 'header');
  assert.equal(r.model.state!.running?.index, 4);

  r = applyHostMessage(r.model, { type: 'notice', text: 'not running here', level: 'error' });
  assert.equal(r.redraw, 'notice');
  assert.deepEqual(r.model.notice, { text: 'not running here', level: 'error' });
});

test('increments before the first state are ignored; a new state closes the override form', () => {
  const start = initialModel({ sessionId: 's1', root: '/r' });
  for (const m of [
    { type: 'trial', trial: trial(1), best: 1, tied: [], pareto: [] },
    { type: 'pending', pending: { id: 1, config: {} } },
    { type: 'running', running: undefined },
    { type: 'status', status: 'running', review: 'each' },
  ] satisfies HostMessage[]) {
    const r = applyHostMessage(start, m);
    assert.equal(r.model, start, m.type);
    assert.equal(r.redraw, 'none', m.type);
  }
  const open = startOverride(applyHostMessage(start, { type: 'state', state: session() }).model);
  assert.equal(applyHostMessage(open, { type: 'state', state: session() }).model.overriding, false);
});

test('sorting by decode descending: highest first, trials without decode last, ties by index', () => {
  const s = session({
    trials: [
      trial(1, { decode: 10 }),
      trial(2),
      trial(3, { decode: 30 }),
      trial(4, { decode: 10 }),
      trial(5, {}, 'failed'),
      trial(6, { decode: 20 }),
    ],
  });
  const order = (column: string, descending: boolean) => sortedTrials(s, { column, descending }).map((t) => t.index);
  assert.deepEqual(order('decode', true), [3, 6, 1, 4, 2, 5]);
  assert.deepEqual(order('decode', false), [1, 4, 6, 3, 2, 5], 'undefined stays last ascending too');
  assert.deepEqual(order('index', true), [6, 5, 4, 3, 2, 1]);
  assert.deepEqual(order('no-such-column', false), [1, 2, 3, 4, 5, 6], 'an unknown column sorts by the first');
  assert.deepEqual(
    sortedTrials(s, undefined).map((t) => t.index),
    [1, 2, 3, 4, 5, 6],
  );
  assert.deepEqual(order('status', false), [1, 2, 3, 4, 6, 5], "'done' before 'failed', ties by index");
  assert.deepEqual(
    s.trials.map((t) => t.index),
    [1, 2, 3, 4, 5, 6],
    'the state is not sorted in place',
  );
});

test('header clicks: a new numeric column starts descending, the same one flips, actions do not sort', () => {
  assert.deepEqual(nextSort(undefined, 'decode'), { column: 'decode', descending: true });
  assert.deepEqual(nextSort({ column: 'decode', descending: true }, 'decode'), { column: 'decode', descending: false });
  assert.deepEqual(nextSort({ column: 'decode', descending: true }, 'config'), { column: 'config', descending: false });
  assert.deepEqual(nextSort(undefined, 'index'), { column: 'index', descending: true }, 'index is the default: flips');
  assert.equal(nextSort(undefined, 'actions'), undefined);
  // The headers that sort are the ones the table makes keyboard buttons of.
  assert.deepEqual(['index', 'decode', 'mark', 'note', 'actions'].map(sortable), [true, true, true, true, false]);
  const m = initialModel({ sessionId: 's1', root: '/r' });
  assert.equal(sortBy(m, 'actions'), m);
  assert.deepEqual(sortBy(m, 'size').persisted, {
    sessionId: 's1',
    root: '/r',
    sort: { column: 'size', descending: true },
  });
});

test('columns: ΔPPL % and KLD only when accuracy was measured; the mark column sorts best, Pareto, others', () => {
  const plain = session({ trials: [trial(1, { decode: 5 })] });
  assert.deepEqual(
    columns(plain).map((c) => c.id),
    ['index', 'status', 'config', 'decode', 'prefill', 'size', 'mark', 'note', 'actions'],
  );
  const s = session({
    trials: [trial(1, { decode: 5, dppl: 1 }), trial(2, { decode: 9 }), trial(3, { decode: 7 })],
    best: 2,
    pareto: [2, 3],
  });
  assert.deepEqual(
    columns(s).map((c) => c.id),
    ['index', 'status', 'config', 'decode', 'prefill', 'size', 'dppl', 'kld', 'mark', 'note', 'actions'],
  );
  assert.deepEqual(
    s.trials.map((t) => markOf(s, t)),
    [undefined, 'best', 'pareto'],
  );
  assert.deepEqual(
    sortedTrials(s, { column: 'mark', descending: true }).map((t) => t.index),
    [2, 3, 1],
  );
  const dpplCol = columns(s).find((c) => c.id === 'dppl')!;
  assert.equal(dpplCol.value(s.trials[0]), 1);
  assert.equal(dpplCol.value(s.trials[1]), undefined);
});

test('limit violations: the size, ΔPPL % and KLD over their limits, none without limits', () => {
  const t = trial(1, { decode: 5, sizeMiB: 600, dppl: 2.5, kld: 0.01 });
  assert.deepEqual(limitViolations(session(), t), []);
  assert.deepEqual(limitViolations(session({ limits: { maxSizeMiB: 500, maxDeltaPplPct: 3, maxKld: 0.005 } }), t), [
    'size',
    'kld',
  ]);
  assert.deepEqual(limitViolations(session({ limits: { maxSizeMiB: 600, maxDeltaPplPct: 2 } }), t), ['dppl']);
  assert.deepEqual(limitViolations(session({ limits: { maxSizeMiB: 1 } }), trial(2)), [], 'unmeasured: no violation');
  assert.equal(sizeMiB(t), 600);
});

test("the objective kind picks the charts' y metric: decode, prefill, and decode for balanced", () => {
  assert.equal(chartMetric('decode'), 'decode');
  assert.equal(chartMetric('prefill'), 'prefill');
  assert.equal(chartMetric('balanced'), 'decode');
  assert.equal(chartYTitle('prefill'), 'prefill t/s');
  assert.equal(chartYTitle('balanced'), 'decode t/s');
  const trials = [trial(1, { decode: 10, prefill: 100, sizeMiB: 400 })];
  for (const [kind, y] of [
    ['decode', 10],
    ['prefill', 100],
    ['balanced', 10],
  ] as const) {
    const s = session({ objectiveKind: kind, trials, best: 1 });
    // The error bar is the charted speed's sd: decode's 0.1, prefill's 1.
    const yErr = kind === 'prefill' ? 1 : 0.1;
    assert.deepEqual(chartPoints(s, sizeMiB).best, [{ x: 400, y, index: 1, yErr }], kind);
  }
  // The kind comes from the field, not from the words of the objective.
  const s = session({ objective: 'maximise decode t/s', objectiveKind: 'prefill', trials, best: 1 });
  assert.equal(chartPoints(s, sizeMiB).best[0].y, 100);
});

test('chart points: best, Pareto front without the best, other done trials, over a limit; unmeasured left out', () => {
  const s = session({
    trials: [
      trial(1, { decode: 10, sizeMiB: 100 }),
      trial(2, { decode: 20, sizeMiB: 200, dppl: 1.5 }),
      trial(3, { decode: 15, sizeMiB: 150 }),
      trial(4, { decode: 30, sizeMiB: 900 }, 'infeasible'),
      trial(5, {}, 'failed'),
      trial(6, { sizeMiB: 100 }),
      trial(7, { decode: 5 }),
    ],
    best: 2,
    pareto: [1, 2],
  });
  assert.deepEqual(
    chartedTrials(s).map((t) => t.index),
    [1, 2, 3, 4, 7],
  );
  const bySize = chartPoints(s, sizeMiB);
  assert.deepEqual(bySize, {
    best: [{ x: 200, y: 20, index: 2, yErr: 0.1 }],
    tied: [],
    pareto: [{ x: 100, y: 10, index: 1, yErr: 0.1 }],
    other: [{ x: 150, y: 15, index: 3, yErr: 0.1 }],
    infeasible: [{ x: 900, y: 30, index: 4, yErr: 0.1 }],
  });
  const specs = chartSpecs(s);
  assert.deepEqual(
    specs.map((c) => [c.id, c.xTitle]),
    [
      ['chart-size', 'file size MiB'],
      ['chart-dppl', 'ΔPPL %'],
    ],
  );
  const byDppl = chartPoints(s, specs[1].x);
  assert.deepEqual(byDppl.best, [{ x: 1.5, y: 20, index: 2, yErr: 0.1 }], 'a ΔPPL without its ± has no x bar');
  assert.deepEqual([byDppl.pareto, byDppl.other, byDppl.infeasible], [[], [], []], 'no ΔPPL: not on that chart');
  assert.deepEqual(
    chartSpecs(session({ trials: [trial(1, { decode: 1, dppl: 2 }, 'failed')] })).map((c) => c.id),
    ['chart-size'],
    'only charted trials bring the ΔPPL chart',
  );
});

test('a tie: ★ on the verdict, ≈ on the tied (in the table and as their own chart dataset), error bars from ± sd and ΔPPL ± its error', () => {
  // What the host sends for a tied session: the verdict's trial, the trials within noise of it, the Pareto front.
  const acc = (t: TrialRecord, dPplPct: number, dPplPctErr: number): TrialRecord => ({
    ...t,
    metrics: { ...t.metrics, accuracy: { dPplPct, dPplPctErr, kld: dPplPct / 100 } },
  });
  const withSd = (t: TrialRecord, sd: number): TrialRecord => ({
    ...t,
    metrics: { ...t.metrics, decode: { ...t.metrics.decode!, sd } },
  });
  const s = session({
    trials: [
      acc(withSd(trial(1, { decode: 100, sizeMiB: 20 }), 4), 9.1, 0.8),
      acc(withSd(trial(2, { decode: 101, sizeMiB: 30 }), 2), 1.55, 0.58),
      acc(withSd(trial(3, { decode: 100, sizeMiB: 28 }), 2), 3.2, 0.6),
      acc(withSd(trial(4, { decode: 80, sizeMiB: 50 }), 1), 0.1, 0.05),
      trial(5, { decode: 10, sizeMiB: 40 }),
    ],
    best: 2,
    tied: [3, 1],
    pareto: [1, 2, 4],
    verdict: '#2 Q4_K_M, #3 Q4_0 and #1 Q2_K decode within noise of each other (±0.5 %); #2 Q4_K_M chosen: …',
  });
  assert.deepEqual(
    s.trials.map((t) => markOf(s, t)),
    ['tied', 'best', 'tied', 'pareto', undefined],
  );
  assert.deepEqual(
    sortedTrials(s, { column: 'mark', descending: true }).map((t) => t.index),
    [2, 1, 3, 4, 5],
  );
  // ΔPPL's ± is the table's second figure: only where ΔPPL was measured.
  assert.deepEqual(
    s.trials.map((t) => dpplErr(t)),
    [0.8, 0.58, 0.6, 0.05, undefined],
  );
  assert.equal(dpplErr({ ...trial(6), metrics: { accuracy: { kld: 0.1, dPplPctErr: 1 } } }), undefined);
  const [bySize, byDppl] = chartSpecs(s).map((c) => chartPoints(s, c.x, chartedTrials(s), c.xErr));
  assert.deepEqual(bySize, {
    best: [{ x: 30, y: 101, index: 2, yErr: 2 }],
    tied: [
      { x: 20, y: 100, index: 1, yErr: 4 },
      { x: 28, y: 100, index: 3, yErr: 2 },
    ],
    pareto: [{ x: 50, y: 80, index: 4, yErr: 1 }],
    other: [{ x: 40, y: 10, index: 5, yErr: 0.1 }],
    infeasible: [],
  });
  assert.deepEqual(byDppl.best, [{ x: 1.55, y: 101, index: 2, yErr: 2, xErr: 0.58 }]);
  assert.deepEqual(
    byDppl.tied.map((p) => [p.index, p.xErr]),
    [
      [1, 0.8],
      [3, 0.6],
    ],
  );
  const [size, dpplChart] = chartSpecs(s);
  assert.equal(pointLabel('decode', byDppl.best[0], dpplChart), '#2: 101.0 ± 2.0 decode t/s, 1.55 ± 0.58 ΔPPL %');
  assert.equal(pointLabel('decode', bySize.best[0], size), '#2: 101.0 ± 2.0 decode t/s, 30.0 file size MiB');
  assert.equal(
    errorBarNote('decode', chartSpecs(s)),
    'Error bars: ± sd of decode t/s over the repetitions; horizontal: ± the standard error of ΔPPL % (the ± of the table).',
  );
  assert.equal(
    errorBarNote('prefill', [size]),
    'Error bars: ± sd of prefill t/s over the repetitions (the ± of the table).',
  );
});

test('the row window: margin rows around the view, clamped to the table; spacers fill the rest', () => {
  assert.deepEqual(rowWindow(1000, 0, 600, 24), { first: 0, last: 85 });
  assert.deepEqual(rowWindow(1000, 12000, 600, 24), { first: 470, last: 555 });
  assert.deepEqual(rowWindow(1000, 23400, 600, 24), { first: 945, last: 1000 });
  assert.deepEqual(rowWindow(20, 0, 600, 24), { first: 0, last: 20 });
  assert.deepEqual(rowWindow(1000, 12000, 0, 0), rowWindow(1000, 12000, 600, 24), 'before layout: the guesses');
  assert.deepEqual(rowWindow(1000, 3000, 300, 30, 5), { first: 95, last: 115 });
  assert.deepEqual(spacerHeights(1000, { first: 470, last: 555 }, 24), { top: 11280, bottom: 10680 });
  assert.deepEqual(spacerHeights(1000, { first: 10, last: 20 }, 0), { top: 240, bottom: 23520 });
});

test('config labels, and the override form from the knobs and back', () => {
  assert.equal(configLabel({ quant: 'Q4_K_M', imatrix: 'none', threads: 8 }), 'Q4_K_M t=8');
  assert.equal(
    configLabel({
      quant: 'Q5_K_M',
      imatrix: 'calib',
      imatrix_chunks: 32,
      output_type: 'f16',
      tensor_overrides: 'ffn-q8',
      threads: 4,
      gpu_layers: 99,
      flash_attn: true,
      batch: 512,
      ubatch: 256,
      cache_type_k: 'q8_0',
      cache_type_v: 'q4_0',
    }),
    'Q5_K_M+imatrix(calib,32)+out=f16+ffn-q8 t=4 ngl=99 fa=on b=512/256 kv=q8_0/q4_0',
  );
  // The same text as the CLI's and the tree's (format.ts): one formatter.
  const c = { quant: 'Q8_0', threads: 2, gpu_layers: 0, flash_attn: false, cache_type_k: 'f16', cache_type_v: 'f16' };
  assert.equal(configLabel(c), shortConfig(c));
  assert.equal(configLabel(c), 'Q8_0 t=2 ngl=0 fa=off kv=f16/f16');
  const s = session();
  const choices = overrideChoices(s.knobs, { id: 1, config: { quant: 'Q8_0', threads: 2 } });
  assert.deepEqual(choices[1], {
    name: 'threads',
    meaning: 'CPU threads',
    invalid: false,
    options: [
      { value: '2', label: '2', selected: true },
      { value: '4', label: '4', selected: false },
    ],
  });
  assert.deepEqual(
    choices[0].options.map((o) => [o.value, o.selected]),
    [
      ['"Q4_K_M"', false],
      ['"Q8_0"', true],
    ],
  );
  // A refused override keeps what the person chose, and marks the knobs the host's reasons name.
  const again = overrideChoices(
    s.knobs,
    { id: 1, config: { quant: 'Q8_0', threads: 2 } },
    { quant: 'Q4_K_M', threads: 4 },
    ['knob "threads" = 64 is outside its domain {1, 2}'],
  );
  assert.deepEqual(
    again.map((k) => [k.name, k.options.find((o) => o.selected)?.label, k.invalid]),
    [
      ['quant', 'Q4_K_M', false],
      ['threads', '4', true],
    ],
  );
  assert.deepEqual(
    [
      ...invalidKnobs(
        ['batch', 'ubatch', 'cache_type_k', 'threads'],
        ['ubatch-not-above-batch: ubatch 512 > batch 256'],
      ),
    ],
    ['batch', 'ubatch'],
  );
  // The host's answer keeps the draft on a refusal and drops it on success.
  const sent = sendOverride({ ...initialModel({} as never), overriding: true }, { quant: 'Q4_K_M' });
  const refused = applyHostMessage(sent, { type: 'override-result', ok: false, reasons: ['no'] } as never).model;
  assert.deepEqual(refused.overrideDraft, { quant: 'Q4_K_M' });
  assert.equal(applyHostMessage(sent, { type: 'override-result', ok: true } as never).model.overrideDraft, undefined);
  assert.deepEqual(
    parseOverride([
      ['quant', '"Q8_0"'],
      ['threads', '2'],
      ['flash_attn', 'true'],
    ]),
    { quant: 'Q8_0', threads: 2, flash_attn: true },
  );
});

test('the pending proposal against ★ best and the previous trial: only the knobs that differ, one entry when they are one trial', () => {
  const t = (index: number, quant: string, threads: number, status: TrialStatus = 'done'): TrialRecord => ({
    ...trial(index, { decode: 10 }, status),
    config: { quant, threads },
  });
  const p = { id: 4, config: { quant: 'Q8_0', threads: 4 } };
  // Before the first trial there is nothing to compare with.
  assert.deepEqual(proposalComparisons(session({ pending: p }), p), []);
  // Best #2, previous #3 (a failed trial is still the previous one).
  const s = session({ trials: [t(1, 'Q4_K_M', 2), t(2, 'Q8_0', 2), t(3, 'Q4_K_M', 4, 'failed')], best: 2, pending: p });
  const c = proposalComparisons(s, p);
  assert.deepEqual(
    c.map((x) => [x.against, x.trial.index, x.changes]),
    [
      ['best', 2, [{ knob: 'threads', from: 2, to: 4 }]],
      ['previous', 3, [{ knob: 'quant', from: 'Q4_K_M', to: 'Q8_0' }]],
    ],
  );
  assert.deepEqual(c.map(comparisonLabel), ['★ best #2 Q8_0', 'previous #3 Q4_K_M']);
  // The previous trial is the latest before the proposal, not a later one (a proposal re-shown after a reload).
  const earlier = { id: 2, config: { quant: 'Q8_0', threads: 4 } };
  assert.deepEqual(
    proposalComparisons({ ...s, best: undefined }, earlier).map((x) => [x.against, x.trial.index]),
    [['previous', 1]],
  );
  // Best and previous the same trial: one entry.
  const one = proposalComparisons({ ...s, best: 3 }, p);
  assert.deepEqual(
    one.map((x) => [x.against, x.trial.index]),
    [['best-previous', 3]],
  );
  assert.equal(comparisonLabel(one[0]), '★ best and previous #3 Q4_K_M');
});

test('the header says "awaiting review" while a running session waits on a proposal, else its status', () => {
  const p = { id: 1, config: { quant: 'Q8_0' } };
  assert.equal(shownStatus(session({ status: 'running', pending: p })), 'awaiting review');
  assert.equal(shownStatus(session({ status: 'running' })), 'running');
  assert.equal(shownStatus(session({ status: 'paused', pending: p })), 'paused');
  assert.equal(shownStatus(session({ status: 'completed', live: false })), 'completed');
  // The pending message alone turns it (the host sends the status after it).
  const m = apply(
    initialModel({ sessionId: 's1', root: '/w' }),
    { type: 'state', state: session() },
    {
      type: 'pending',
      pending: p,
    },
  );
  assert.equal(shownStatus(m.model.state!), 'awaiting review');
  assert.equal(shownStatus(apply(m.model, { type: 'pending', pending: undefined }).model.state!), 'running');
});

test('the all-knobs toggle is closed by default and kept in the persisted view state', () => {
  const m = initialModel({ sessionId: 's1', root: '/w' });
  assert.ok(!m.persisted.allKnobs);
  const open = toggleAllKnobs(m);
  assert.equal(open.persisted.allKnobs, true);
  assert.notEqual(open.persisted, m.persisted, 'a new persisted object, so main.ts keeps it with VS Code');
  assert.equal(toggleAllKnobs(open).persisted.allKnobs, false);
});

test("a chart colour that does not stand out from the theme's background by 3:1 is darkened (or lightened) just enough", () => {
  const white: Rgb = [255, 255, 255];
  const dark: Rgb = [0x1f, 0x1f, 0x1f];
  assert.deepEqual(parseColour('#d18616'), [0xd1, 0x86, 0x16]);
  assert.deepEqual(parseColour('#abc'), [0xaa, 0xbb, 0xcc]);
  assert.deepEqual(parseColour('rgba(12, 34, 56, 0.5)'), [12, 34, 56]);
  assert.equal(parseColour('var(--x)'), undefined);
  assert.equal(contrast(white, [0, 0, 0]).toFixed(1), '21.0');
  // Light Modern's orange on white is 2.9:1: darkened to 3:1.
  const orange = parseColour('#d18616')!;
  assert.ok(contrast(orange, white) < 3);
  const fixed = legible(orange, white, 3);
  assert.ok(contrast(fixed, white) >= 3);
  assert.ok(
    fixed.every((v, i) => v < orange[i]),
    'darker, the same hue',
  );
  // On a dark background a dark colour is lightened; one that stands out is kept as it is.
  const navy: Rgb = [0x20, 0x30, 0x60];
  assert.ok(legible(navy, dark, 3).every((v, i) => v > navy[i]));
  assert.deepEqual(legible([0x37, 0x94, 0xff], dark, 3), [0x37, 0x94, 0xff]);
  assert.equal(hexColour([1, 171, 255]), '#01abff');
});
