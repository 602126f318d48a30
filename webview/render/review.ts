/**
 * The pending proposal card, compact so the table and the charts stay in view: rationale, expected effect, the
 * counterintuitive badge, what the proposal changes against ★ best and the previous trial ("ubatch 512 → 256"), every
 * knob behind a toggle (or, while overriding, a dropdown per knob), the host's reasons for refusing an override, and
 * Accept / Override… / Skip / Accept all remaining (Run override / Cancel while overriding).
 */
import { describeChanges, knobValue } from '../../src/core/configDiff';
import type { Config } from '../../src/core/types';
import type { ProposalView, SessionState } from '../protocol';
import {
  comparisonLabel,
  configLabel,
  knobMeaning,
  overrideChoices,
  parseOverride,
  proposalComparisons,
} from '../model';
import { esc } from './html';

const OVERRIDE_ACTIONS =
  '<vscode-button id="override-run">Run override</vscode-button>' +
  '<vscode-button id="override-cancel" secondary>Cancel</vscode-button>';
const PROPOSAL_ACTIONS =
  '<vscode-button id="proposal-accept">Accept</vscode-button>' +
  '<vscode-button id="proposal-override" secondary>Override…</vscode-button>' +
  '<vscode-button id="proposal-skip" secondary>Skip</vscode-button>' +
  '<vscode-button id="proposal-accept-all" secondary>Accept all remaining</vscode-button>';

function knobEditor(s: SessionState, p: ProposalView, draft: Config | undefined, reasons: string[]): string {
  return overrideChoices(s.knobs, p, draft, reasons)
    .map((k) => {
      const opts = k.options
        .map((o) => {
          const selected = o.selected ? ' selected' : '';
          return `<vscode-option value="${esc(o.value)}"${selected}>${esc(o.label)}</vscode-option>`;
        })
        .join('');
      const name = esc(k.name);
      const meaning = esc(k.meaning);
      const invalid = k.invalid ? ' invalid aria-invalid="true" aria-describedby="override-reasons"' : '';
      const select = `<vscode-single-select data-knob="${name}" aria-label="${name}"${invalid}>${opts}</vscode-single-select>`;
      const row = k.invalid ? ' class="invalid"' : '';
      return `<tr${row}><th title="${meaning}">${name}</th><td>${select}</td><td class="muted">${meaning}</td></tr>`;
    })
    .join('');
}

/** The proposal against ★ best and the previous trial, one line each; the first proposal says so. */
function changesList(s: SessionState, p: ProposalView): string {
  const comparisons = proposalComparisons(s, p);
  if (!comparisons.length)
    return `<p class="changes">First trial of the session: <span class="mono">${esc(configLabel(p.config))}</span></p>`;
  const items = comparisons
    .map(
      (c) =>
        `<li data-against="${c.against}"><span class="against">vs ${esc(comparisonLabel(c))}:</span> ` +
        `<span class="mono">${esc(describeChanges(c.changes))}</span></li>`,
    )
    .join('');
  return `<ul class="changes" aria-label="What this proposal changes">${items}</ul>`;
}

/** Every knob of the proposal, the ones that differ from the compared trials marked; hidden unless toggled open. */
function knobTable(s: SessionState, p: ProposalView, open: boolean): string {
  const changed = new Set(proposalComparisons(s, p).flatMap((c) => c.changes.map((x) => x.knob)));
  const rows = Object.entries(p.config)
    .map(([k, v]) => {
      const meaning = esc(knobMeaning(s.knobs, k));
      const cls = changed.has(k) ? ' class="changed"' : '';
      return `<tr${cls}><th>${esc(k)}</th><td>${esc(knobValue(v))}</td><td class="muted">${meaning}</td></tr>`;
    })
    .join('');
  const n = Object.keys(p.config).length;
  const label = open ? 'Hide the knobs' : `Show all ${n} knobs`;
  return (
    `<button class="link" id="knobs-toggle" aria-expanded="${open}" aria-controls="knob-table">${label}</button>` +
    `<table class="config" id="knob-table"${open ? '' : ' hidden'}>${rows}</table>`
  );
}

export function renderPending(
  s: SessionState,
  overriding: boolean,
  overrideReasons: string[],
  overrideDraft?: Config,
  allKnobs = false,
): void {
  const el = document.getElementById('pending')!;
  const p = s.pending;
  if (!p) {
    el.innerHTML = '';
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const knobs = overriding
    ? `<table class="config editing">${knobEditor(s, p, overrideDraft, overrideReasons)}</table>`
    : knobTable(s, p, allKnobs);
  const badge = p.counterintuitive
    ? ` <vscode-badge class="ci" title="${esc(p.counterintuitive)}">counterintuitive</vscode-badge>`
    : '';
  const why = p.rationale ? `<p class="why"><strong>Why:</strong> ${esc(p.rationale)}</p>` : '';
  const expected = p.expectedEffect ? `<p><strong>Expected:</strong> ${esc(p.expectedEffect)}</p>` : '';
  const ciReason = p.counterintuitive
    ? `<p class="ci-reason"><strong>Counterintuitive:</strong> ${esc(p.counterintuitive)}</p>`
    : '';
  const reasons = overrideReasons.map((r) => `<div>${esc(r)}</div>`).join('');
  el.innerHTML = `
    <h2>Proposal #${p.id} <span class="muted">${esc(p.source ?? '')}</span>${badge}</h2>
    ${why}
    ${expected}
    ${ciReason}
    ${changesList(s, p)}
    ${knobs}
    <div id="override-reasons" class="reasons" role="alert">${reasons}</div>
    <div class="actions">
      ${overriding ? OVERRIDE_ACTIONS : PROPOSAL_ACTIONS}
    </div>`;
}

/** The override form's config: each knob's dropdown value (JSON of a value of its domain). */
export function readOverride(): Config {
  const pairs: [string, string][] = [];
  document.querySelectorAll<HTMLElement & { value: string }>('vscode-single-select[data-knob]').forEach((el) => {
    pairs.push([el.dataset.knob!, el.value]);
  });
  return parseOverride(pairs);
}
