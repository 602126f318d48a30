/**
 * The trial table: a header that sorts, and only the rows in view (plus a margin) between two spacer rows, so 1,000
 * trials stay cheap. Columns, values, order and the row window come from ../model; this draws the cells.
 */
import type { Stat, TrialRecord } from '../../src/core/types';
import type { SessionState } from '../protocol';
import {
  DEFAULT_SORT,
  ROW_HEIGHT_GUESS,
  canDeploy,
  columns,
  configLabel,
  dppl,
  dpplErr,
  fmt,
  kld,
  limitOf,
  markOf,
  overLimit,
  rowWindow,
  sizeMiB,
  sortable,
  sortedTrials,
  spacerHeights,
  trialCountLabel,
  type Column,
  type ColumnId,
  type LimitedColumn,
  type Sort,
} from '../model';
import { esc } from './html';

function limitCell(s: SessionState, column: LimitedColumn, v: number | undefined, d = 1): string {
  if (v === undefined) return '–';
  const limit = limitOf(s, column);
  return overLimit(v, limit)
    ? `<span class="violation" title="over the limit ${limit}">${fmt(v, d)}</span>`
    : fmt(v, d);
}

/**
 * A finding's badge is a button: its evidence shows in the #evidence region below the verdict (aria-expanded,
 * aria-controls), so a keyboard or a screen reader reaches it as a mouse's hover does (the tooltip stays too).
 */
export function evidenceOf(t: TrialRecord): string | undefined {
  if (t.findings?.length) return t.findings.map((f) => `${f.evidence}\nlikely why: ${f.explanation}`).join('\n\n');
  return t.counterintuitive;
}

function note(t: TrialRecord): string {
  const out: string[] = [];
  const evidence = evidenceOf(t);
  if (evidence) {
    const measured = !!t.findings?.length;
    const label = measured ? 'counterintuitive, measured' : 'counterintuitive (proposed)';
    const open = openEvidence === t.index;
    out.push(
      `<button type="button" class="badge-ci${measured ? '' : ' proposed'}" data-evidence="${t.index}" ` +
        `aria-expanded="${open}" aria-controls="evidence" title="${esc(evidence)}">${label}</button>`,
    );
  }
  if (t.cause) {
    const cls = t.status === 'infeasible' ? 'violation' : 'muted';
    out.push(`<span class="${cls}" title="${esc(t.cause)}">${esc(t.cause)}</span>`);
  } else if (t.rationale) out.push(`<span class="muted" title="${esc(t.rationale)}">${esc(t.rationale)}</span>`);
  return out.join(' ');
}

/** The trial whose evidence is shown (undefined: none). */
let openEvidence: number | undefined;

/**
 * Shows or hides a trial's evidence in the #evidence region (the same trial again hides it); returns whether it is
 * shown. The badges' aria-expanded follow.
 */
export function toggleEvidence(s: SessionState, index: number): boolean {
  openEvidence = openEvidence === index ? undefined : index;
  renderEvidence(s);
  return openEvidence !== undefined;
}

function renderEvidence(s: SessionState): void {
  const el = document.getElementById('evidence');
  if (!el) return;
  const t = openEvidence === undefined ? undefined : s.trials.find((x) => x.index === openEvidence);
  const text = t && evidenceOf(t);
  if (!t || !text) openEvidence = undefined;
  el.hidden = !text;
  el.innerHTML =
    t && text
      ? `<h3>#${t.index} ${esc(configLabel(t.config))}: ${t.findings?.length ? 'counterintuitive, measured' : 'counterintuitive (proposed)'}</h3>` +
        `<p class="evidence-text">${esc(text)}</p>`
      : '';
  for (const b of Array.from(document.querySelectorAll<HTMLElement>('#trial-table [data-evidence]')))
    b.setAttribute('aria-expanded', String(Number(b.dataset.evidence) === openEvidence));
}

/** A value's ± as the table shows it, muted; nothing when there is none. */
const pm = (v: number | undefined, d = 1): string => (v === undefined ? '' : ` <span class="sd">± ${fmt(v, d)}</span>`);
const speed = (m: Stat | undefined): string => (m ? `${fmt(m.mean)}${pm(m.sd)}` : '–');

const MARKS = {
  best: '<span class="mark best" title="the verdict: best under the limits, beyond noise">★ best</span>',
  tied: '<span class="mark tied" title="within noise of the best (the tie was broken by accuracy, then size)">≈ best</span>',
  pareto: '<span class="mark pareto" title="on the Pareto front">Pareto</span>',
  none: '',
} as const;

/** The trial the deploy config serves (applied from this session). */
const DEPLOYED = '<span class="mark deployed" title="the trial the deploy config serves (applied)">deployed</span>';

const ACCEPT_TITLE = 'Propose this configuration for the deploy config (diff review)';
const TRY_TITLE = 'Serve it with llama-server and measure one completion';

const CELLS: Record<ColumnId, (t: TrialRecord, s: SessionState) => string> = {
  index: (t) => String(t.index),
  status: (t) => `<span class="status status-${t.status}">${t.status}</span>`,
  // Ellipsized in a narrow column: the whole label on hover, then every knob.
  config: (t) =>
    `<span title="${esc(`${configLabel(t.config)}\n${JSON.stringify(t.config)}`)}">${esc(configLabel(t.config))}</span>`,
  decode: (t) => speed(t.metrics.decode),
  prefill: (t) => speed(t.metrics.prefill),
  size: (t, s) => limitCell(s, 'size', sizeMiB(t)),
  dppl: (t, s) => `${limitCell(s, 'dppl', dppl(t), 2)}${pm(dpplErr(t), 2)}`,
  kld: (t, s) => limitCell(s, 'kld', kld(t), 4),
  mark: (t, s) => MARKS[markOf(s, t) ?? 'none'] + (t.index === s.deployed ? DEPLOYED : ''),
  note,
  actions: (t) =>
    canDeploy(t)
      ? `<button class="link" data-accept="${t.index}" title="${ACCEPT_TITLE}">Accept…</button> ` +
        `<button class="link" data-try="${t.index}" title="${TRY_TITLE}">Try</button>`
      : '',
};

/** The measured row height (0 until a row is drawn), the rows in order and the columns of the last full render. */
let rowHeight = 0;
let sortedRows: TrialRecord[] = [];
let tableCols: Column[] = [];

/** The whole table (header, sort marks, trial count) and then the rows in view. */
export function renderTable(s: SessionState, sortOrder: Sort | undefined): void {
  tableCols = columns(s);
  sortedRows = sortedTrials(s, sortOrder, tableCols);
  const sort = sortOrder ?? DEFAULT_SORT;
  // Each sortable header holds a button (focusable; Enter and Space sort, as a click does); the sorted one carries
  // aria-sort, the others none (one sorted column at a time, as ARIA asks). The arrow is not read out.
  const head = tableCols
    .map((c) => {
      const sorted = c.id === sort.column;
      const cls = `c-${c.id}${c.numeric ? ' num' : ''}${sorted ? ' sorted' : ''}`;
      if (!sortable(c.id)) return `<th data-col="${c.id}" class="${cls}">${esc(c.title)}</th>`;
      const ariaSort = sorted ? ` aria-sort="${sort.descending ? 'descending' : 'ascending'}"` : '';
      const arrow = sorted ? `<span aria-hidden="true">${sort.descending ? ' ▼' : ' ▲'}</span>` : '';
      return (
        `<th data-col="${c.id}" class="${cls}"${ariaSort}>` +
        `<button type="button" class="sort" title="Sort by ${esc(c.title)}">${esc(c.title)}${arrow}</button></th>`
      );
    })
    .join('');
  const colgroup = tableCols.map((c) => `<col class="c-${c.id}">`).join('');
  const el = document.getElementById('trials')!;
  el.innerHTML =
    `<table id="trial-table" data-total="${s.trials.length}"><colgroup>${colgroup}</colgroup>` +
    `<thead><tr>${head}</tr></thead><tbody></tbody></table>`;
  document.getElementById('trial-count')!.textContent = trialCountLabel(s.trials.length);
  document.getElementById('verdict')!.textContent = s.verdict ? `Verdict: ${s.verdict}` : '';
  renderRows(s);
  renderEvidence(s);
}

/** The rows in view of the last rendered order (on scroll, and after renderTable). */
export function renderRows(s: SessionState): void {
  const el = document.getElementById('trials')!;
  const body = el.querySelector('tbody');
  if (!body) return;
  if (!sortedRows.length) {
    body.innerHTML = `<tr><td colspan="${tableCols.length}" class="muted">No trials yet.</td></tr>`;
    return;
  }
  const w = rowWindow(sortedRows.length, el.scrollTop, el.clientHeight, rowHeight);
  const rows = sortedRows
    .slice(w.first, w.last)
    .map((t) => {
      const cls = `row-${t.status}${t.index === s.best ? ' row-best' : ''}`;
      const cells = tableCols.map((c) => `<td class="c-${c.id}${c.numeric ? ' num' : ''}">${CELLS[c.id](t, s)}</td>`);
      return `<tr data-index="${t.index}" class="${cls}">${cells.join('')}</tr>`;
    })
    .join('');
  body.innerHTML = `<tr class="spacer" id="spacer-top"></tr>${rows}<tr class="spacer" id="spacer-bottom"></tr>`;
  const measured = body.querySelector('tr[data-index]') as HTMLElement | null;
  if (!rowHeight && measured) rowHeight = measured.getBoundingClientRect().height || ROW_HEIGHT_GUESS;
  // Heights through the CSSOM: the CSP allows no inline style attributes.
  const gap = spacerHeights(sortedRows.length, w, rowHeight);
  (document.getElementById('spacer-top') as HTMLElement).style.height = `${gap.top}px`;
  (document.getElementById('spacer-bottom') as HTMLElement).style.height = `${gap.bottom}px`;
}
