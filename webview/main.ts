/**
 * The session webview: pending proposal with Accept / Override / Skip, live trial table (sortable, mean ± sd, Pareto
 * and best marks, limits), Pareto charts (Chart.js), session controls, hardware. Talks to the host only through
 * webview/protocol.ts; keeps its view state with getState/setState so hide/show and reloads restore it.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import { Chart, Legend, LinearScale, LogarithmicScale, PointElement, ScatterController, Tooltip } from 'chart.js';
import type { Config, ConfigValue, TrialRecord } from '../src/core/types';
import type { HostMessage, ProposalView, SessionState, ViewMessage, ViewPersisted } from './protocol';

Chart.register(ScatterController, LinearScale, LogarithmicScale, PointElement, Tooltip, Legend);

declare function acquireVsCodeApi(): {
  postMessage(m: ViewMessage): void;
  getState(): ViewPersisted | undefined;
  setState(s: ViewPersisted): void;
};
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;
const initial = JSON.parse(decodeURIComponent(app.dataset.session ?? '%7B%7D')) as ViewPersisted;
let persisted: ViewPersisted = { ...initial, ...vscode.getState() };
vscode.setState(persisted);

let state: SessionState | undefined;
let overriding = false;
let overrideReasons: string[] = [];
const charts: Chart[] = [];

const post = (m: ViewMessage) => vscode.postMessage(m);
const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
const mib = (b?: number) => (b === undefined ? undefined : b / 2 ** 20);
const fmt = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const dppl = (t: TrialRecord) => t.metrics.accuracy?.dPplPct;
const kld = (t: TrialRecord) => t.metrics.accuracy?.kld;

/** A short label of a config: the quant recipe, then the runtime knobs that differ from llama.cpp defaults. */
function configLabel(c: Config): string {
  const parts = [String(c.quant ?? '')];
  if (c.imatrix && c.imatrix !== 'none') parts.push(`imatrix:${String(c.imatrix)}`);
  if (c.tensor_overrides && c.tensor_overrides !== 'none') parts.push(String(c.tensor_overrides));
  if (c.threads !== undefined) parts.push(`t${String(c.threads)}`);
  if (c.gpu_layers) parts.push(`ngl${String(c.gpu_layers)}`);
  if (c.flash_attn) parts.push('fa');
  if (c.batch !== undefined) parts.push(`b${String(c.batch)}/${String(c.ubatch)}`);
  if (c.cache_type_k && c.cache_type_k !== 'f16') parts.push(`kv:${String(c.cache_type_k)}/${String(c.cache_type_v)}`);
  return parts.join(' ');
}

type Column = {
  id: string;
  title: string;
  value: (t: TrialRecord) => number | string | undefined;
  cell: (t: TrialRecord) => string;
  numeric: boolean;
};

function columns(s: SessionState): Column[] {
  const acc = s.trials.some((t) => t.metrics.accuracy);
  const cols: Column[] = [
    { id: 'index', title: '#', value: (t) => t.index, cell: (t) => String(t.index), numeric: true },
    {
      id: 'status',
      title: 'status',
      value: (t) => t.status,
      cell: (t) => `<span class="status status-${t.status}">${t.status}</span>`,
      numeric: false,
    },
    {
      id: 'config',
      title: 'configuration',
      value: (t) => configLabel(t.config),
      cell: (t) => `<span title="${esc(JSON.stringify(t.config))}">${esc(configLabel(t.config))}</span>`,
      numeric: false,
    },
    {
      id: 'decode',
      title: 'decode t/s',
      value: (t) => t.metrics.decode?.mean,
      cell: (t) =>
        t.metrics.decode ? `${fmt(t.metrics.decode.mean)} <span class="sd">± ${fmt(t.metrics.decode.sd)}</span>` : '–',
      numeric: true,
    },
    {
      id: 'prefill',
      title: 'prefill t/s',
      value: (t) => t.metrics.prefill?.mean,
      cell: (t) =>
        t.metrics.prefill
          ? `${fmt(t.metrics.prefill.mean)} <span class="sd">± ${fmt(t.metrics.prefill.sd)}</span>`
          : '–',
      numeric: true,
    },
    {
      id: 'size',
      title: 'size MiB',
      value: (t) => mib(t.metrics.fileSizeBytes),
      cell: (t) => limitCell(mib(t.metrics.fileSizeBytes), s.limits.maxSizeMiB),
      numeric: true,
    },
  ];
  if (acc) {
    cols.push({
      id: 'dppl',
      title: 'ΔPPL %',
      value: dppl,
      cell: (t) => limitCell(dppl(t), s.limits.maxDeltaPplPct, 2),
      numeric: true,
    });
    cols.push({
      id: 'kld',
      title: 'KLD',
      value: kld,
      cell: (t) => limitCell(kld(t), s.limits.maxKld, 4),
      numeric: true,
    });
  }
  cols.push({
    id: 'mark',
    title: 'mark',
    value: (t) => (t.index === s.best ? 2 : s.pareto.includes(t.index) ? 1 : 0),
    cell: (t) =>
      t.index === s.best
        ? '<span class="mark best" title="best under the limits">★ best</span>'
        : s.pareto.includes(t.index)
          ? '<span class="mark pareto" title="on the Pareto front">Pareto</span>'
          : '',
    numeric: true,
  });
  cols.push({ id: 'note', title: 'note', value: (t) => t.cause ?? '', cell: note, numeric: false });
  cols.push({
    id: 'actions',
    title: '',
    value: () => undefined,
    cell: (t) =>
      t.status === 'done' || t.status === 'infeasible'
        ? `<button class="link" data-accept="${t.index}" title="Propose this configuration for the deploy config (diff review)">Accept…</button> <button class="link" data-try="${t.index}" title="Serve it with llama-server and measure one completion">Try</button>`
        : '',
    numeric: false,
  });
  return cols;
}

function limitCell(v: number | undefined, limit: number | undefined, d = 1): string {
  if (v === undefined) return '–';
  return limit !== undefined && v > limit
    ? `<span class="violation" title="over the limit ${limit}">${fmt(v, d)}</span>`
    : fmt(v, d);
}

function note(t: TrialRecord): string {
  const out: string[] = [];
  if (t.findings?.length)
    out.push(
      `<span class="badge-ci" title="${esc(t.findings.map((f) => `${f.evidence}\nlikely why: ${f.explanation}`).join('\n\n'))}">counterintuitive, measured</span>`,
    );
  else if (t.counterintuitive)
    out.push(`<span class="badge-ci proposed" title="${esc(t.counterintuitive)}">counterintuitive (proposed)</span>`);
  if (t.cause)
    out.push(
      `<span class="${t.status === 'infeasible' ? 'violation' : 'muted'}" title="${esc(t.cause)}">${esc(t.cause)}</span>`,
    );
  else if (t.rationale) out.push(`<span class="muted" title="${esc(t.rationale)}">${esc(t.rationale)}</span>`);
  return out.join(' ');
}

function sortedTrials(s: SessionState, cols: Column[]): TrialRecord[] {
  const sort = persisted.sort ?? { column: 'index', descending: false };
  const col = cols.find((c) => c.id === sort.column) ?? cols[0];
  const dir = sort.descending ? -1 : 1;
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

/** Rows are one line high, so the table renders only the rows in view (plus a margin): 1,000 trials stay cheap. */
let rowHeight = 0;
let sortedRows: TrialRecord[] = [];
let tableCols: Column[] = [];
const WINDOW_MARGIN = 30;

function renderTable(): void {
  const s = state!;
  tableCols = columns(s);
  sortedRows = sortedTrials(s, tableCols);
  const sort = persisted.sort ?? { column: 'index', descending: false };
  const head = tableCols
    .map(
      (c) =>
        `<th data-col="${c.id}" class="c-${c.id}${c.numeric ? ' num' : ''}${c.id === sort.column ? ' sorted' : ''}" aria-sort="${c.id === sort.column ? (sort.descending ? 'descending' : 'ascending') : 'none'}">${esc(c.title)}${c.id === sort.column ? (sort.descending ? ' ▼' : ' ▲') : ''}</th>`,
    )
    .join('');
  const el = document.getElementById('trials')!;
  el.innerHTML = `<table id="trial-table" data-total="${s.trials.length}"><colgroup>${tableCols.map((c) => `<col class="c-${c.id}">`).join('')}</colgroup><thead><tr>${head}</tr></thead><tbody></tbody></table>`;
  document.getElementById('trial-count')!.textContent = `${s.trials.length} trial${s.trials.length === 1 ? '' : 's'}`;
  renderRows();
}

function renderRows(): void {
  const s = state!;
  const el = document.getElementById('trials')!;
  const body = el.querySelector('tbody');
  if (!body) return;
  if (!sortedRows.length) {
    body.innerHTML = `<tr><td colspan="${tableCols.length}" class="muted">No trials yet.</td></tr>`;
    return;
  }
  const h = rowHeight || 24;
  const first = Math.max(0, Math.floor(el.scrollTop / h) - WINDOW_MARGIN);
  const last = Math.min(sortedRows.length, first + Math.ceil((el.clientHeight || 600) / h) + 2 * WINDOW_MARGIN);
  const rows = sortedRows
    .slice(first, last)
    .map(
      (t) =>
        `<tr data-index="${t.index}" class="row-${t.status}${t.index === s.best ? ' row-best' : ''}">${tableCols.map((c) => `<td class="c-${c.id}${c.numeric ? ' num' : ''}">${c.cell(t)}</td>`).join('')}</tr>`,
    )
    .join('');
  body.innerHTML = `<tr class="spacer" id="spacer-top"></tr>${rows}<tr class="spacer" id="spacer-bottom"></tr>`;
  const measured = body.querySelector('tr[data-index]') as HTMLElement | null;
  if (!rowHeight && measured) rowHeight = measured.getBoundingClientRect().height || 24;
  // Heights through the CSSOM: the CSP allows no inline style attributes.
  (document.getElementById('spacer-top') as HTMLElement).style.height = `${first * (rowHeight || h)}px`;
  (document.getElementById('spacer-bottom') as HTMLElement).style.height =
    `${(sortedRows.length - last) * (rowHeight || h)}px`;
}

let scrollFrame = 0;
document.addEventListener(
  'scroll',
  (ev) => {
    if ((ev.target as HTMLElement)?.id !== 'trials' || scrollFrame) return;
    scrollFrame = requestAnimationFrame(() => {
      scrollFrame = 0;
      renderRows();
    });
  },
  true,
);

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

let chartTheme = '';

function renderCharts(): void {
  const s = state!;
  const fg = cssVar('--vscode-foreground', '#888');
  const grid = cssVar('--vscode-panel-border', 'rgba(128,128,128,0.3)');
  const colours = {
    other: cssVar('--vscode-charts-blue', '#3794ff'),
    pareto: cssVar('--vscode-charts-green', '#89d185'),
    best: cssVar('--vscode-charts-yellow', '#cca700'),
    infeasible: cssVar('--vscode-charts-red', '#f14c4c'),
  };
  const measured = s.trials.filter((t) => (t.status === 'done' || t.status === 'infeasible') && t.metrics.decode);
  const prefill = s.objective.includes('prefill t/s') && !s.objective.includes('decode');
  const objectiveMetric = (t: TrialRecord) => (prefill ? t.metrics.prefill?.mean : t.metrics.decode?.mean);
  const yTitle = prefill ? 'prefill t/s' : 'decode t/s';
  const acc = measured.some((t) => dppl(t) !== undefined);
  document.getElementById('chart-dppl-box')!.hidden = !acc;
  const theme = `${document.body.className}|${acc}`;
  if (theme !== chartTheme) {
    for (const c of charts.splice(0)) c.destroy();
    chartTheme = theme;
  }
  const groups = (x: (t: TrialRecord) => number | undefined) => {
    const pick = (f: (t: TrialRecord) => boolean) =>
      measured
        .filter(f)
        .map((t) => ({ x: x(t)!, y: objectiveMetric(t)!, index: t.index }))
        .filter((p) => p.x !== undefined && p.y !== undefined);
    return [
      {
        label: 'best',
        data: pick((t) => t.index === s.best),
        backgroundColor: colours.best,
        pointRadius: 7,
        pointStyle: 'star' as const,
        borderColor: colours.best,
      },
      {
        label: 'Pareto front',
        data: pick((t) => t.index !== s.best && s.pareto.includes(t.index)),
        backgroundColor: colours.pareto,
        pointRadius: 5,
      },
      {
        label: 'other',
        data: pick((t) => t.status === 'done' && t.index !== s.best && !s.pareto.includes(t.index)),
        backgroundColor: colours.other,
        pointRadius: 4,
      },
      {
        label: 'over a limit',
        data: pick((t) => t.status === 'infeasible'),
        backgroundColor: colours.infeasible,
        pointRadius: 4,
        pointStyle: 'crossRot' as const,
        borderColor: colours.infeasible,
      },
    ];
  };
  const specs: [string, string, (t: TrialRecord) => number | undefined][] = [
    ['chart-size', 'file size MiB', (t) => mib(t.metrics.fileSizeBytes)],
  ];
  if (acc) specs.push(['chart-dppl', 'ΔPPL %', dppl]);
  specs.forEach(([id, xTitle, x], i) => {
    const canvas = document.getElementById(id) as HTMLCanvasElement;
    const datasets = groups(x);
    canvas.dataset.points = String(datasets.reduce((n, d) => n + d.data.length, 0));
    const existing = charts[i];
    if (existing) {
      existing.data.datasets = datasets;
      existing.update('none');
      return;
    }
    charts[i] = new Chart(canvas, {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { labels: { color: fg } },
          tooltip: {
            callbacks: {
              label: (c) =>
                `#${(c.raw as { index: number }).index}: ${fmt(c.parsed.y ?? undefined)} t/s, ${fmt(c.parsed.x ?? undefined, 3)} ${xTitle}`,
            },
          },
        },
        scales: {
          x: { title: { display: true, text: xTitle, color: fg }, ticks: { color: fg }, grid: { color: grid } },
          y: { title: { display: true, text: yTitle, color: fg }, ticks: { color: fg }, grid: { color: grid } },
        },
      },
    });
  });
}

function knobEditor(p: ProposalView): string {
  const knobs = state!.knobs;
  return knobs
    .map((k) => {
      const current = p.config[k.name];
      const opts = k.values
        .map(
          (v) =>
            `<vscode-option value="${esc(JSON.stringify(v))}"${v === current ? ' selected' : ''}>${esc(String(v))}</vscode-option>`,
        )
        .join('');
      return `<tr><th title="${esc(k.meaning)}">${esc(k.name)}</th><td><vscode-single-select data-knob="${esc(k.name)}" aria-label="${esc(k.name)}">${opts}</vscode-single-select></td><td class="muted">${esc(k.meaning)}</td></tr>`;
    })
    .join('');
}

function renderPending(): void {
  const el = document.getElementById('pending')!;
  const p = state!.pending;
  if (!p) {
    el.innerHTML = '';
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const rows = overriding
    ? knobEditor(p)
    : Object.entries(p.config)
        .map(
          ([k, v]) =>
            `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td><td class="muted">${esc(state!.knobs.find((x) => x.name === k)?.meaning ?? '')}</td></tr>`,
        )
        .join('');
  el.innerHTML = `
    <h2>Proposal #${p.id} <span class="muted">${esc(p.source ?? '')}</span>${p.counterintuitive ? ` <vscode-badge class="ci" title="${esc(p.counterintuitive)}">counterintuitive</vscode-badge>` : ''}</h2>
    ${p.rationale ? `<p><strong>Why:</strong> ${esc(p.rationale)}</p>` : ''}
    ${p.expectedEffect ? `<p><strong>Expected:</strong> ${esc(p.expectedEffect)}</p>` : ''}
    ${p.counterintuitive ? `<p class="ci-reason"><strong>Counterintuitive:</strong> ${esc(p.counterintuitive)}</p>` : ''}
    <table class="config ${overriding ? 'editing' : ''}">${rows}</table>
    <div id="override-reasons" class="reasons" role="alert">${overrideReasons.map((r) => `<div>${esc(r)}</div>`).join('')}</div>
    <div class="actions">
      ${
        overriding
          ? '<vscode-button id="override-run">Run override</vscode-button><vscode-button id="override-cancel" secondary>Cancel</vscode-button>'
          : '<vscode-button id="proposal-accept">Accept</vscode-button><vscode-button id="proposal-override" secondary>Override…</vscode-button><vscode-button id="proposal-skip" secondary>Skip</vscode-button><vscode-button id="proposal-accept-all" secondary>Accept all remaining</vscode-button>'
      }
    </div>`;
}

function renderHeader(): void {
  const s = state!;
  document.body.dataset.status = s.status;
  document.getElementById('title')!.textContent = `${s.model} — session ${s.sessionId}`;
  document.getElementById('status')!.innerHTML =
    `<vscode-badge class="status-badge status-${s.status}">${esc(s.status)}</vscode-badge>${s.stopReason ? ` <span class="muted">${esc(s.stopReason)}</span>` : ''}`;
  document.getElementById('meta')!.innerHTML =
    `${esc(s.objective)} · strategy ${esc(s.strategy)} · budget ${s.budget} · review ${s.review === 'each' ? 'each proposal' : 'automatic'}${s.llmUsage ? `<br><span class="muted">${esc(s.llmUsage)}</span>` : ''}`;
  document.getElementById('hardware')!.textContent = `${s.hardware}\n${s.toolchain}`;
  const live = s.live;
  (document.getElementById('pause') as HTMLElement).hidden = !live || s.status === 'paused';
  (document.getElementById('resume') as HTMLElement).hidden = !live || s.status !== 'paused';
  (document.getElementById('stop') as HTMLElement).hidden = !live;
  const r = s.running;
  document.getElementById('running')!.innerHTML = r
    ? `<vscode-progress-ring></vscode-progress-ring> <span>running #${r.index} ${esc(configLabel(r.config))}${r.message ? ` — ${esc(r.message)}` : ''}</span>`
    : '';
}

function renderAll(): void {
  if (!state) return;
  renderHeader();
  renderPending();
  renderTable();
  renderCharts();
}

let frame = 0;
function later(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    renderTable();
    renderCharts();
    renderHeader();
  });
}

function shell(): void {
  app.innerHTML = `
  <header>
    <h1 id="title">HAQA</h1>
    <div id="status"></div>
    <div class="controls">
      <vscode-button id="pause" secondary hidden>Pause</vscode-button>
      <vscode-button id="resume" hidden>Resume</vscode-button>
      <vscode-button id="stop" secondary hidden>Stop</vscode-button>
    </div>
  </header>
  <p id="meta" class="meta"></p>
  <div id="notice" class="notice" role="status" hidden></div>
  <section id="pending" class="pending" hidden></section>
  <div id="running" class="running"></div>
  <section class="charts">
    <div class="chart-box"><canvas id="chart-size" aria-label="objective vs file size"></canvas></div>
    <div class="chart-box" id="chart-dppl-box" hidden><canvas id="chart-dppl" aria-label="objective vs perplexity increase"></canvas></div>
  </section>
  <h2>Trials <span id="trial-count" class="muted"></span></h2>
  <div id="trials" class="trials"></div>
  <vscode-collapsible title="Hardware and toolchain"><pre id="hardware"></pre></vscode-collapsible>`;
}

function readOverride(): Config {
  const out: Config = {};
  document.querySelectorAll<HTMLElement & { value: string }>('vscode-single-select[data-knob]').forEach((el) => {
    out[el.dataset.knob!] = JSON.parse(el.value) as ConfigValue;
  });
  return out;
}

document.addEventListener('click', (ev) => {
  const target = ev.target as HTMLElement;
  const th = target.closest('th[data-col]') as HTMLElement | null;
  if (th && th.closest('#trial-table')) {
    const column = th.dataset.col!;
    if (column === 'actions') return;
    const cur = persisted.sort ?? { column: 'index', descending: false };
    const sort = {
      column,
      descending:
        cur.column === column ? !cur.descending : column !== 'index' && column !== 'config' && column !== 'status',
    };
    persisted = { ...persisted, sort };
    vscode.setState(persisted);
    post({ type: 'view-state', sort });
    renderTable();
    return;
  }
  const accept = target.closest('[data-accept]') as HTMLElement | null;
  if (accept) {
    post({ type: 'accept-config', trial: Number(accept.dataset.accept) });
    return;
  }
  const tryIt = target.closest('[data-try]') as HTMLElement | null;
  if (tryIt) {
    post({ type: 'try-it', trial: Number(tryIt.dataset.try) });
    return;
  }
  const id = (target.closest('[id]') as HTMLElement | null)?.id;
  const p = state?.pending;
  switch (id) {
    case 'pause':
      post({ type: 'control', action: 'pause' });
      break;
    case 'resume':
      post({ type: 'control', action: 'resume' });
      break;
    case 'stop':
      post({ type: 'control', action: 'stop' });
      break;
    case 'proposal-accept':
      if (p) post({ type: 'proposal', action: 'accept', id: p.id });
      break;
    case 'proposal-skip':
      if (p) post({ type: 'proposal', action: 'skip', id: p.id });
      break;
    case 'proposal-accept-all':
      if (p) post({ type: 'proposal', action: 'accept-all', id: p.id });
      break;
    case 'proposal-override':
      overriding = true;
      overrideReasons = [];
      renderPending();
      break;
    case 'override-cancel':
      overriding = false;
      overrideReasons = [];
      renderPending();
      break;
    case 'override-run':
      if (p) post({ type: 'override', id: p.id, config: readOverride() });
      break;
  }
});

window.addEventListener('message', (ev: MessageEvent<HostMessage>) => {
  const m = ev.data;
  switch (m.type) {
    case 'state':
      state = m.state;
      persisted = { ...persisted, sessionId: m.state.sessionId, root: m.state.root };
      vscode.setState(persisted);
      overriding = false;
      renderAll();
      break;
    case 'trial': {
      if (!state) return;
      const i = state.trials.findIndex((t) => t.index === m.trial.index);
      if (i >= 0) state.trials[i] = m.trial;
      else state.trials.push(m.trial);
      state.best = m.best;
      state.pareto = m.pareto;
      later();
      break;
    }
    case 'pending':
      if (!state) return;
      state.pending = m.pending;
      overriding = false;
      overrideReasons = [];
      renderPending();
      break;
    case 'running':
      if (!state) return;
      state.running = m.running;
      renderHeader();
      break;
    case 'status':
      if (!state) return;
      state.status = m.status;
      state.review = m.review;
      if (m.stopReason) state.stopReason = m.stopReason;
      state.live = ['preparing', 'running', 'paused'].includes(m.status);
      renderHeader();
      break;
    case 'override-result':
      overrideReasons = m.ok ? [] : m.reasons;
      if (!m.ok) renderPending();
      break;
    case 'notice': {
      const n = document.getElementById('notice')!;
      n.hidden = false;
      n.className = `notice ${m.level}`;
      n.textContent = m.text;
      break;
    }
  }
});

new MutationObserver(() => {
  if (state) renderCharts();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });
shell();
post({ type: 'ready' });
