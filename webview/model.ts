/**
 * The session webview's logic, without the DOM or VS Code's webview API: the view model and how host messages and the
 * user's actions change it, the table's columns (their values), sorting, config labels, limit checks, best / Pareto
 * marks, which trial goes to which chart dataset, and the window of rows the virtualised table draws. Pure functions
 * over plain data: main.ts holds one ViewModel, the renderers in render/ draw it, and test/unit/webview-model.test.ts
 * tests it under Node. It type-checks with and without the DOM lib (webview/tsconfig.json and the root tsconfig).
 */
import type { ObjectiveKind } from '../src/core/objective';
import { wasMeasured, type Config, type ConfigValue, type TrialRecord } from '../src/core/types';
import { configDiff, type KnobChange } from '../src/core/configDiff';
import { shortConfig } from '../src/core/format';
import type { HostMessage, KnobView, ProposalView, SessionState, SessionStatus, ViewPersisted } from './protocol';

// ---- The view model and its updates ----

export type Sort = NonNullable<ViewPersisted['sort']>;
export const DEFAULT_SORT: Sort = { column: 'index', descending: false };

export interface Notice {
  text: string;
  level: 'info' | 'error';
}

/** Everything the view shows: the host's session state, plus the view's own (sort order, override form, notice). */
export interface ViewModel {
  /** What survives hide/show and reloads (vscode.setState): a new object whenever it changes. */
  persisted: ViewPersisted;
  /** Undefined until the host's first `state` message. */
  state?: SessionState;
  /** Whether the pending proposal shows the override form (a dropdown per knob) instead of its config. */
  overriding: boolean;
  /** Why the host refused the last override (empty when it did not). */
  overrideReasons: string[];
  /** The override as the person set it when it was sent: kept in the form when the host refuses it. */
  overrideDraft?: Config;
  notice?: Notice;
}

/**
 * What to draw again after an update: everything; the trials (table, charts and header, batched into one animation
 * frame); the pending proposal; the header; the notice; nothing.
 */
export type Redraw = 'all' | 'trials' | 'pending' | 'header' | 'notice' | 'none';

export function initialModel(persisted: ViewPersisted): ViewModel {
  return { persisted, overriding: false, overrideReasons: [] };
}

/** The statuses in which a session still runs (its Pause / Resume / Stop controls apply). */
export const LIVE_STATUSES: readonly SessionStatus[] = ['preparing', 'running', 'paused'];
export const isLive = (status: SessionStatus): boolean => LIVE_STATUSES.includes(status);

/** One host message applied to the model: the new model (the old one is not changed) and what to draw again. */
export function applyHostMessage(model: ViewModel, m: HostMessage): { model: ViewModel; redraw: Redraw } {
  const s = model.state;
  switch (m.type) {
    case 'state':
      return {
        model: {
          ...model,
          state: m.state,
          persisted: { ...model.persisted, sessionId: m.state.sessionId, root: m.state.root },
          overriding: false,
        },
        redraw: 'all',
      };
    case 'trial': {
      if (!s) return { model, redraw: 'none' };
      const i = s.trials.findIndex((t) => t.index === m.trial.index);
      const trials = i >= 0 ? s.trials.map((t, j) => (j === i ? m.trial : t)) : [...s.trials, m.trial];
      const marks = { best: m.best, tied: m.tied, pareto: m.pareto, verdict: m.verdict };
      return { model: { ...model, state: { ...s, trials, ...marks } }, redraw: 'trials' };
    }
    case 'pending':
      if (!s) return { model, redraw: 'none' };
      return {
        model: { ...model, state: { ...s, pending: m.pending }, overriding: false, overrideReasons: [] },
        redraw: 'pending',
      };
    case 'running':
      if (!s) return { model, redraw: 'none' };
      return { model: { ...model, state: { ...s, running: m.running } }, redraw: 'header' };
    case 'status':
      if (!s) return { model, redraw: 'none' };
      return {
        model: {
          ...model,
          state: {
            ...s,
            status: m.status,
            review: m.review,
            stopReason: m.stopReason ? m.stopReason : s.stopReason,
            live: isLive(m.status),
          },
        },
        redraw: 'header',
      };
    case 'override-result':
      return {
        model: {
          ...model,
          overrideReasons: m.ok ? [] : m.reasons,
          overrideDraft: m.ok ? undefined : model.overrideDraft,
        },
        redraw: m.ok ? 'none' : 'pending',
      };
    case 'notice':
      return { model: { ...model, notice: { text: m.text, level: m.level } }, redraw: 'notice' };
  }
}

/** Whether a column's header sorts (every column but the actions). */
export const sortable = (column: string): boolean => column !== 'actions';

/** The sort order after a click on a column's header: the same column flips; a new one starts descending, except the
 * index, configuration and status columns. Undefined for the actions column (it does not sort). */
export function nextSort(current: Sort | undefined, column: string): Sort | undefined {
  if (!sortable(column)) return undefined;
  const cur = current ?? DEFAULT_SORT;
  return {
    column,
    descending:
      cur.column === column ? !cur.descending : column !== 'index' && column !== 'config' && column !== 'status',
  };
}

/** The model after a click on a column's header (the same model when the column does not sort). */
export function sortBy(model: ViewModel, column: string): ViewModel {
  const sort = nextSort(model.persisted.sort, column);
  return sort ? { ...model, persisted: { ...model.persisted, sort } } : model;
}

/** Override… and Cancel on the pending proposal: both forget the last refusal. */
export const startOverride = (model: ViewModel): ViewModel => ({
  ...model,
  overriding: true,
  overrideReasons: [],
  overrideDraft: undefined,
});
export const cancelOverride = (model: ViewModel): ViewModel => ({
  ...model,
  overriding: false,
  overrideReasons: [],
  overrideDraft: undefined,
});
/** The override as sent: the form shows it again if the host refuses it. */
export const sendOverride = (model: ViewModel, draft: Config): ViewModel => ({ ...model, overrideDraft: draft });
/** The review card's "all knobs" toggle: its state is kept (the next proposal opens the same way, reloads too). */
export const toggleAllKnobs = (model: ViewModel): ViewModel => ({
  ...model,
  persisted: { ...model.persisted, allKnobs: !model.persisted.allKnobs },
});

// ---- Values and labels ----

export const mib = (b?: number): number | undefined => (b === undefined ? undefined : b / 2 ** 20);
export const fmt = (v: number | undefined, d = 1): string =>
  v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d);
export const sizeMiB = (t: TrialRecord): number | undefined => mib(t.metrics.fileSizeBytes);
export const dppl = (t: TrialRecord): number | undefined => t.metrics.accuracy?.dPplPct;
/** ΔPPL's ± (llama-perplexity's standard error of the ratio, in %), when the trial measured ΔPPL. */
export const dpplErr = (t: TrialRecord): number | undefined =>
  dppl(t) === undefined ? undefined : t.metrics.accuracy?.dPplPctErr;
export const kld = (t: TrialRecord): number | undefined => t.metrics.accuracy?.kld;

/** A config's label: core's one formatter (format.ts), the same as the CLI's and the tree's. */
export const configLabel = (c: Config): string => shortConfig(c);

export const sessionTitle = (s: SessionState): string => `${s.model} — session ${s.sessionId}`;
export const trialCountLabel = (n: number): string => `${n} trial${n === 1 ? '' : 's'}`;
export const reviewLabel = (review: SessionState['review']): string =>
  review === 'each' ? 'each proposal' : 'automatic';

/** What the header's status badge says: "awaiting review" while a running session waits for the person's word on a
 * proposal (nothing runs then), else the session's status. */
export type ShownStatus = SessionStatus | 'awaiting review';
export const shownStatus = (s: SessionState): ShownStatus =>
  s.live && s.status === 'running' && s.pending ? 'awaiting review' : s.status;

/**
 * Which session controls show: Pause and Stop while it runs here, Resume instead of Pause while it is paused; and Resume
 * for a session that is not running here and did not complete (interrupted by a window reload or a crash, stopped,
 * failed): the panel restored after a reload can carry it on.
 */
export function controlsShown(s: SessionState): { pause: boolean; resume: boolean; stop: boolean } {
  const resumable = !s.live && !['completed', 'preparing', 'running'].includes(s.status);
  return {
    pause: s.live && s.status !== 'paused',
    resume: (s.live && s.status === 'paused') || resumable,
    stop: s.live,
  };
}

// ---- Marks and limits ----

export type Mark = 'best' | 'tied' | 'pareto';

/** ★ best (the verdict), then ≈ best (tied with it beyond noise), then Pareto; undefined for other trials. */
export function markOf(s: SessionState, t: TrialRecord): Mark | undefined {
  if (t.index === s.best) return 'best';
  if (s.tied?.includes(t.index)) return 'tied';
  return s.pareto.includes(t.index) ? 'pareto' : undefined;
}

/** How the mark column sorts: best, tied, then Pareto, then the rest. */
const MARK_RANK = { best: 3, tied: 2, pareto: 1, none: 0 } as const;

/** The columns that have a limit, and the limit of each (undefined when none is set). */
export type LimitedColumn = 'size' | 'dppl' | 'kld';
export function limitOf(s: SessionState, column: LimitedColumn): number | undefined {
  return column === 'size' ? s.limits.maxSizeMiB : column === 'dppl' ? s.limits.maxDeltaPplPct : s.limits.maxKld;
}

/** Whether a value is over a limit (never when either is unknown). */
export const overLimit = (v: number | undefined, limit: number | undefined): boolean =>
  v !== undefined && limit !== undefined && v > limit;

const LIMITED: [LimitedColumn, (t: TrialRecord) => number | undefined][] = [
  ['size', sizeMiB],
  ['dppl', dppl],
  ['kld', kld],
];

/** The limited columns whose value in this trial is over its limit (drawn in red). */
export function limitViolations(s: SessionState, t: TrialRecord): LimitedColumn[] {
  return LIMITED.filter(([c, v]) => overLimit(v(t), limitOf(s, c))).map(([c]) => c);
}

// ---- Table columns and sorting ----

export type ColumnId =
  'index' | 'status' | 'config' | 'decode' | 'prefill' | 'size' | 'dppl' | 'kld' | 'mark' | 'note' | 'actions';

/** A column of the trial table: its value sorts; render/table.ts draws its cells. */
export interface Column {
  id: ColumnId;
  title: string;
  numeric: boolean;
  value: (t: TrialRecord) => number | string | undefined;
}

/** Whether the table has the ΔPPL % and KLD columns: some trial measured accuracy. */
export const hasAccuracy = (s: SessionState): boolean => s.trials.some((t) => t.metrics.accuracy);

export function columns(s: SessionState): Column[] {
  const cols: Column[] = [
    { id: 'index', title: '#', value: (t) => t.index, numeric: true },
    { id: 'status', title: 'status', value: (t) => t.status, numeric: false },
    { id: 'config', title: 'configuration', value: (t) => configLabel(t.config), numeric: false },
    { id: 'decode', title: 'decode t/s', value: (t) => t.metrics.decode?.mean, numeric: true },
    { id: 'prefill', title: 'prefill t/s', value: (t) => t.metrics.prefill?.mean, numeric: true },
    { id: 'size', title: 'size MiB', value: sizeMiB, numeric: true },
  ];
  if (hasAccuracy(s)) {
    cols.push({ id: 'dppl', title: 'ΔPPL %', value: dppl, numeric: true });
    cols.push({ id: 'kld', title: 'KLD', value: kld, numeric: true });
  }
  cols.push({ id: 'mark', title: 'mark', value: (t) => MARK_RANK[markOf(s, t) ?? 'none'], numeric: true });
  cols.push({ id: 'note', title: 'note', value: (t) => t.cause ?? '', numeric: false });
  cols.push({ id: 'actions', title: '', value: () => undefined, numeric: false });
  return cols;
}

/** The trials in the table's order: by the sort column (an unknown one: the first), trials without a value last
 * whatever the direction, ties by index ascending. */
export function sortedTrials(s: SessionState, sort: Sort | undefined, cols: Column[] = columns(s)): TrialRecord[] {
  const { column, descending } = sort ?? DEFAULT_SORT;
  const col = cols.find((c) => c.id === column) ?? cols[0];
  const dir = descending ? -1 : 1;
  return [...s.trials].sort((a, b) => {
    const x = col.value(a);
    const y = col.value(b);
    if (x === undefined && y === undefined) return a.index - b.index;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (
      (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * dir ||
      a.index - b.index
    );
  });
}

/** Whether a trial has Accept… and Try (it was measured). */
export const canDeploy = (t: TrialRecord): boolean => wasMeasured(t);

// ---- The virtualised table's row window ----

/** Rows are one line high, so the table draws only the rows in view plus this many above and below. */
export const WINDOW_MARGIN = 30;
/** The row height and viewport height assumed before the first row is measured / the box is laid out. */
export const ROW_HEIGHT_GUESS = 24;
export const VIEWPORT_GUESS = 600;

export interface RowWindow {
  /** The first row drawn and one past the last. */
  first: number;
  last: number;
}

/** The rows to draw for the table box's scroll position (rowHeight 0: not measured yet). */
export function rowWindow(
  total: number,
  scrollTop: number,
  clientHeight: number,
  rowHeight: number,
  margin = WINDOW_MARGIN,
): RowWindow {
  const h = rowHeight || ROW_HEIGHT_GUESS;
  const first = Math.max(0, Math.floor(scrollTop / h) - margin);
  const last = Math.min(total, first + Math.ceil((clientHeight || VIEWPORT_GUESS) / h) + 2 * margin);
  return { first, last };
}

/** Pixel heights of the empty rows standing in for the rows above and below the window. */
export function spacerHeights(total: number, w: RowWindow, rowHeight: number): { top: number; bottom: number } {
  const h = rowHeight || ROW_HEIGHT_GUESS;
  return { top: w.first * h, bottom: (total - w.last) * h };
}

// ---- Charts ----

/** The measured speed a chart's y axis shows: prefill t/s for the prefill objective; decode t/s for decode, and for
 * balanced too (its blend weight is not in the state). */
export const chartMetric = (kind: ObjectiveKind): 'decode' | 'prefill' => (kind === 'prefill' ? 'prefill' : 'decode');
export const chartYTitle = (kind: ObjectiveKind): string => `${chartMetric(kind)} t/s`;
export const objectiveValue = (kind: ObjectiveKind, t: TrialRecord): number | undefined =>
  t.metrics[chartMetric(kind)]?.mean;
/** The ± of the charted speed: its sd over the repetitions (the ± the table shows). */
export const objectiveSd = (kind: ObjectiveKind, t: TrialRecord): number | undefined =>
  t.metrics[chartMetric(kind)]?.sd;

/** The trials the charts show: measured (done or over a limit) with a decode speed. */
export const chartedTrials = (s: SessionState): TrialRecord[] =>
  s.trials.filter((t) => canDeploy(t) && t.metrics.decode);

export interface ChartPoint {
  x: number;
  y: number;
  index: number;
  /** The error bars' half-lengths: the speed's sd (y), ΔPPL's standard error (x, on the ΔPPL chart); absent when the
   * trial has none. */
  yErr?: number;
  xErr?: number;
}

/** The charts' datasets, in drawing (and legend) order. */
export type ChartGroup = 'best' | 'tied' | 'pareto' | 'other' | 'infeasible';

export interface ChartSpec {
  /** The canvas's id. */
  id: 'chart-size' | 'chart-dppl';
  xTitle: string;
  /** Decimals of x in tooltips (as the table shows it). */
  digits: number;
  x: (t: TrialRecord) => number | undefined;
  /** The x value's ± when it has one (ΔPPL's standard error). */
  xErr?: (t: TrialRecord) => number | undefined;
}

/** The charts: the objective vs file size, and vs ΔPPL % when some charted trial measured it. */
export function chartSpecs(s: SessionState, measured = chartedTrials(s)): ChartSpec[] {
  const specs: ChartSpec[] = [{ id: 'chart-size', xTitle: 'file size MiB', digits: 1, x: sizeMiB }];
  if (measured.some((t) => dppl(t) !== undefined))
    specs.push({ id: 'chart-dppl', xTitle: 'ΔPPL %', digits: 2, x: dppl, xErr: dpplErr });
  return specs;
}

const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

/** Each dataset's points on a chart whose x is `x` (± `xErr`): the verdict's trial; those tied with it; the Pareto front
 * without them; other done trials; trials over a limit. A trial without x or y is left out. Every point carries the
 * ± of its y (the speed's sd) and, with `xErr`, of its x. */
export function chartPoints(
  s: SessionState,
  x: (t: TrialRecord) => number | undefined,
  measured = chartedTrials(s),
  xErr?: (t: TrialRecord) => number | undefined,
): Record<ChartGroup, ChartPoint[]> {
  const tied = (t: TrialRecord) => t.index !== s.best && s.tied.includes(t.index);
  const pick = (f: (t: TrialRecord) => boolean): ChartPoint[] =>
    measured.filter(f).flatMap((t) => {
      const p = { x: x(t), y: objectiveValue(s.objectiveKind, t) };
      if (!finite(p.x) || !finite(p.y)) return [];
      const yErr = objectiveSd(s.objectiveKind, t);
      const xe = xErr?.(t);
      return [
        { x: p.x, y: p.y, index: t.index, ...(finite(yErr) ? { yErr } : {}), ...(finite(xe) ? { xErr: xe } : {}) },
      ];
    });
  const front = (t: TrialRecord) => t.index !== s.best && !tied(t) && s.pareto.includes(t.index);
  return {
    best: pick((t) => t.index === s.best),
    tied: pick(tied),
    pareto: pick(front),
    other: pick((t) => t.status === 'done' && t.index !== s.best && !tied(t) && !s.pareto.includes(t.index)),
    infeasible: pick((t) => t.status === 'infeasible'),
  };
}

/** A point's tooltip: "#2: 101.0 ± 2.0 t/s, 1.55 ± 0.58 ΔPPL %" (the ± as the table shows them). */
export function pointLabel(kind: ObjectiveKind, p: ChartPoint, c: Pick<ChartSpec, 'xTitle' | 'digits'>): string {
  const pm = (v: number | undefined, d: number) => (v === undefined ? '' : ` ± ${fmt(v, d)}`);
  const x = `${fmt(p.x, c.digits)}${pm(p.xErr, c.digits)} ${c.xTitle}`;
  return `#${p.index}: ${fmt(p.y)}${pm(p.yErr, 1)} ${chartYTitle(kind)}, ${x}`;
}

/** What the charts' error bars are, in one line under them. */
export function errorBarNote(kind: ObjectiveKind, specs: ChartSpec[]): string {
  const dpplBars = specs.some((c) => c.xErr) ? '; horizontal: ± the standard error of ΔPPL %' : '';
  return `Error bars: ± sd of ${chartYTitle(kind)} over the repetitions${dpplBars} (the ± of the table).`;
}

// ---- The pending proposal's override form ----

export interface KnobChoice {
  name: string;
  meaning: string;
  /** Each value of the knob's domain: JSON (the dropdown's value), its label, whether the proposal has it. */
  options: { value: string; label: string; selected: boolean }[];
}

export const knobMeaning = (knobs: KnobView[], name: string): string =>
  knobs.find((k) => k.name === name)?.meaning ?? '';

/**
 * The override form: every knob as a dropdown of its domain, the person's last override selected where there is one
 * (a refused override keeps its values), else the proposal's; `invalid` on the knobs the host's reasons name.
 */
export function overrideChoices(
  knobs: KnobView[],
  p: ProposalView,
  draft?: Config,
  reasons: string[] = [],
): (KnobChoice & { invalid: boolean })[] {
  const named = invalidKnobs(
    knobs.map((k) => k.name),
    reasons,
  );
  return knobs.map((k) => {
    const chosen = draft && k.name in draft ? draft[k.name] : p.config[k.name];
    return {
      name: k.name,
      meaning: k.meaning,
      invalid: named.has(k.name),
      options: k.values.map((v) => ({ value: JSON.stringify(v), label: String(v), selected: v === chosen })),
    };
  });
}

/** The knobs a refusal's reasons name ("ubatch-not-above-batch: ubatch 512 > batch 256" names ubatch and batch). */
export function invalidKnobs(names: string[], reasons: string[]): Set<string> {
  const text = reasons.join('\n');
  return new Set(names.filter((n) => new RegExp(`(^|[^a-z_])${n}([^a-z_]|$)`).test(text)));
}

/** The override's config from the form's (knob, dropdown value) pairs. */
export function parseOverride(entries: Iterable<[string, string]>): Config {
  const out: Config = {};
  for (const [knob, value] of entries) out[knob] = JSON.parse(value) as ConfigValue;
  return out;
}

// ---- The pending proposal against the best and the previous trial ----

export interface ProposalComparison {
  /** What the proposal is compared with: the verdict's trial, the latest trial, or one trial that is both. */
  against: 'best' | 'previous' | 'best-previous';
  trial: TrialRecord;
  /** The knobs that differ, in the search space's order: "from" is the trial's value, "to" the proposal's. */
  changes: KnobChange[];
}

/**
 * The pending proposal against ★ best (the verdict's trial) and against the previous trial (the latest before it,
 * whatever its status), one entry when they are the same trial; none before the first trial.
 */
export function proposalComparisons(s: SessionState, p: ProposalView): ProposalComparison[] {
  const order = s.knobs.map((k) => k.name);
  const best = s.best === undefined ? undefined : s.trials.find((t) => t.index === s.best);
  const previous = s.trials
    .filter((t) => t.index < p.id)
    .reduce<TrialRecord | undefined>((a, t) => (!a || t.index > a.index ? t : a), undefined);
  const against = (t: TrialRecord, what: ProposalComparison['against']): ProposalComparison => ({
    against: what,
    trial: t,
    changes: configDiff(t.config, p.config, order),
  });
  if (best && previous && best.index === previous.index) return [against(best, 'best-previous')];
  return [...(best ? [against(best, 'best')] : []), ...(previous ? [against(previous, 'previous')] : [])];
}

/** "★ best #2 Q4_K_M", "previous #3 Q4_0", "★ best and previous #3 Q4_0". */
export function comparisonLabel(c: ProposalComparison): string {
  const what = c.against === 'best' ? '★ best' : c.against === 'previous' ? 'previous' : '★ best and previous';
  return `${what} #${c.trial.index} ${String(c.trial.config.quant ?? '')}`.trim();
}

/** A colour as red, green, blue (0-255). */
export type Rgb = [number, number, number];

/** `#rgb`, `#rrggbb` or `rgb()/rgba()` (as a canvas or getComputedStyle writes colours); undefined otherwise. */
export function parseColour(s: string): Rgb | undefined {
  const t = s.trim();
  const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(t);
  if (short) return [1, 2, 3].map((i) => parseInt(short[i] + short[i], 16)) as Rgb;
  const long = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})(?:[0-9a-f]{2})?$/i.exec(t);
  if (long) return [1, 2, 3].map((i) => parseInt(long[i], 16)) as Rgb;
  const fn = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(t);
  return fn ? ([1, 2, 3].map((i) => Math.round(Number(fn[i]))) as Rgb) : undefined;
}

/** WCAG 2 contrast ratio of two colours (1 to 21). */
export function contrast(a: Rgb, b: Rgb): number {
  const lum = (c: Rgb) => {
    const [r, g, bl] = c.map((v) => {
      const x = v / 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * The colour itself where it stands out from the background by `min` (WCAG 1.4.11 asks 3:1 of a chart's marks), else
 * the least mix of it with black (on a light background) or white (on a dark one) that does: the theme's hue, legible.
 */
export function legible(colour: Rgb, background: Rgb, min: number): Rgb {
  if (contrast(colour, background) >= min) return colour;
  const toward = contrast([0, 0, 0], background) >= contrast([255, 255, 255], background) ? 0 : 255;
  for (let k = 1; k <= 20; k++) {
    const mixed = colour.map((v) => Math.round(v + ((toward - v) * k) / 20)) as Rgb;
    if (contrast(mixed, background) >= min) return mixed;
  }
  return [toward, toward, toward];
}

export const hexColour = (c: Rgb) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
