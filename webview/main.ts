/**
 * The session webview: pending proposal with Accept / Override / Skip, live trial table (sortable, mean ± sd, Pareto
 * and best marks, limits), Pareto charts (Chart.js), session controls, hardware. Talks to the host only through
 * webview/protocol.ts; keeps its view state with getState/setState so hide/show and reloads restore it.
 * This file is the wiring: VS Code's webview API, the message loop, DOM events. The logic is in model.ts (pure, unit
 * tested), the drawing in render/.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import type { HostMessage, ViewMessage, ViewPersisted } from './protocol';
import {
  applyHostMessage,
  cancelOverride,
  initialModel,
  sendOverride,
  sortBy,
  startOverride,
  toggleAllKnobs,
  type ViewModel,
} from './model';
import { renderCharts } from './render/charts';
import { renderHeader, renderNotice, shell } from './render/header';
import { readOverride, renderPending } from './render/review';
import { renderRows, renderTable, toggleEvidence } from './render/table';

declare function acquireVsCodeApi(): {
  postMessage(m: ViewMessage): void;
  getState(): ViewPersisted | undefined;
  setState(s: ViewPersisted): void;
};
const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;
const initial = JSON.parse(decodeURIComponent(app.dataset.session ?? '%7B%7D')) as ViewPersisted;
let model: ViewModel = initialModel({ ...initial, ...vscode.getState() });
vscode.setState(model.persisted);

const post = (m: ViewMessage) => vscode.postMessage(m);

/** Takes the next model; keeps its persisted part with VS Code when that changed. */
function update(next: ViewModel): void {
  if (next.persisted !== model.persisted) vscode.setState(next.persisted);
  model = next;
}

const table = () => model.state && renderTable(model.state, model.persisted.sort);
const pending = () =>
  model.state &&
  renderPending(model.state, model.overriding, model.overrideReasons, model.overrideDraft, model.persisted.allKnobs);
const header = () => model.state && renderHeader(model.state);
const charts = () => model.state && renderCharts(model.state);

function renderAll(): void {
  if (!model.state) return;
  header();
  pending();
  table();
  charts();
}

/** Trial updates come in bursts: they are drawn once, in the next animation frame. */
let frame = 0;
function later(): void {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    table();
    charts();
    header();
  });
}

let scrollFrame = 0;
document.addEventListener(
  'scroll',
  (ev) => {
    if ((ev.target as HTMLElement)?.id !== 'trials' || scrollFrame) return;
    scrollFrame = requestAnimationFrame(() => {
      scrollFrame = 0;
      if (model.state) renderRows(model.state);
    });
  },
  true,
);

document.addEventListener('click', (ev) => {
  const target = ev.target as HTMLElement;
  const th = target.closest('th[data-col]') as HTMLElement | null;
  if (th && th.closest('#trial-table')) {
    const next = sortBy(model, th.dataset.col!);
    if (next === model) return;
    update(next);
    post({ type: 'view-state', sort: next.persisted.sort! });
    table();
    // The header was drawn again: the focus stays on its button, so Enter / Space can sort it back.
    document.querySelector<HTMLElement>(`#trial-table th[data-col="${th.dataset.col!}"] button.sort`)?.focus();
    return;
  }
  const evidence = target.closest('[data-evidence]') as HTMLElement | null;
  if (evidence && model.state) {
    toggleEvidence(model.state, Number(evidence.dataset.evidence));
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
  const p = model.state?.pending;
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
    case 'show-terminal':
      post({ type: 'show-terminal' });
      break;
    case 'knobs-toggle':
      update(toggleAllKnobs(model));
      pending();
      document.getElementById('knobs-toggle')?.focus();
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
      update(startOverride(model));
      pending();
      break;
    case 'override-cancel':
      update(cancelOverride(model));
      pending();
      break;
    case 'override-run':
      if (p) {
        const config = readOverride();
        update(sendOverride(model, config));
        post({ type: 'override', id: p.id, config });
      }
      break;
  }
});

window.addEventListener('message', (ev: MessageEvent<HostMessage>) => {
  const { model: next, redraw } = applyHostMessage(model, ev.data);
  update(next);
  switch (redraw) {
    case 'all':
      renderAll();
      break;
    case 'trials':
      later();
      break;
    case 'pending':
      // The header too: its badge says "awaiting review" while a proposal waits.
      pending();
      header();
      break;
    case 'header':
      header();
      break;
    case 'notice':
      if (model.notice) renderNotice(model.notice);
      break;
  }
});

new MutationObserver(() => charts()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
shell(app);
post({ type: 'ready' });
