/**
 * The pending proposal card: rationale, expected effect, the counterintuitive badge, its config (or, while
 * overriding, a dropdown per knob), the host's reasons for refusing an override, and Accept / Override… / Skip /
 * Accept all remaining (Run override / Cancel while overriding).
 */
import type { Config } from '../../src/core/types';
import type { ProposalView, SessionState } from '../protocol';
import { knobMeaning, overrideChoices, parseOverride } from '../model';
import { esc } from './html';

function knobEditor(s: SessionState, p: ProposalView): string {
  return overrideChoices(s.knobs, p)
    .map((k) => {
      const opts = k.options
        .map(
          (o) =>
            `<vscode-option value="${esc(o.value)}"${o.selected ? ' selected' : ''}>${esc(o.label)}</vscode-option>`,
        )
        .join('');
      return `<tr><th title="${esc(k.meaning)}">${esc(k.name)}</th><td><vscode-single-select data-knob="${esc(k.name)}" aria-label="${esc(k.name)}">${opts}</vscode-single-select></td><td class="muted">${esc(k.meaning)}</td></tr>`;
    })
    .join('');
}

export function renderPending(s: SessionState, overriding: boolean, overrideReasons: string[]): void {
  const el = document.getElementById('pending')!;
  const p = s.pending;
  if (!p) {
    el.innerHTML = '';
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const rows = overriding
    ? knobEditor(s, p)
    : Object.entries(p.config)
        .map(
          ([k, v]) =>
            `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td><td class="muted">${esc(knobMeaning(s.knobs, k))}</td></tr>`,
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

/** The override form's config: each knob's dropdown value (JSON of a value of its domain). */
export function readOverride(): Config {
  const pairs: [string, string][] = [];
  document.querySelectorAll<HTMLElement & { value: string }>('vscode-single-select[data-knob]').forEach((el) => {
    pairs.push([el.dataset.knob!, el.value]);
  });
  return parseOverride(pairs);
}
