/**
 * The pending proposal card: rationale, expected effect, the counterintuitive badge, its config (or, while
 * overriding, a dropdown per knob), the host's reasons for refusing an override, and Accept / Override… / Skip /
 * Accept all remaining (Run override / Cancel while overriding).
 */
import type { Config } from '../../src/core/types';
import type { ProposalView, SessionState } from '../protocol';
import { knobMeaning, overrideChoices, parseOverride } from '../model';
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

export function renderPending(
  s: SessionState,
  overriding: boolean,
  overrideReasons: string[],
  overrideDraft?: Config,
): void {
  const el = document.getElementById('pending')!;
  const p = s.pending;
  if (!p) {
    el.innerHTML = '';
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const rows = overriding
    ? knobEditor(s, p, overrideDraft, overrideReasons)
    : Object.entries(p.config)
        .map(([k, v]) => {
          const meaning = esc(knobMeaning(s.knobs, k));
          return `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td><td class="muted">${meaning}</td></tr>`;
        })
        .join('');
  const badge = p.counterintuitive
    ? ` <vscode-badge class="ci" title="${esc(p.counterintuitive)}">counterintuitive</vscode-badge>`
    : '';
  const why = p.rationale ? `<p><strong>Why:</strong> ${esc(p.rationale)}</p>` : '';
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
    <table class="config ${overriding ? 'editing' : ''}">${rows}</table>
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
