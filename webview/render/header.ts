/**
 * The page's frame (shell) and its header: title, status badge and stop reason, objective / strategy / budget /
 * review line, the agent's token use, session controls, the running trial, hardware and toolchain; and the notice.
 */
import type { Notice } from '../model';
import { configLabel, controlsShown, reviewLabel, sessionTitle, shownStatus } from '../model';
import type { SessionState } from '../protocol';
import { esc } from './html';

export function shell(app: HTMLElement): void {
  app.innerHTML = `
  <header>
    <h1 id="title">HAQA</h1>
    <div id="status"></div>
    <div class="controls">
      <vscode-button id="pause" secondary hidden>Pause</vscode-button>
      <vscode-button id="resume" hidden>Resume</vscode-button>
      <vscode-button id="stop" secondary hidden>Stop</vscode-button>
      <vscode-button id="show-terminal" secondary hidden title="Every tool's command line and live output (HAQA: Show Terminal)">Terminal</vscode-button>
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
  <p id="chart-note" class="muted chart-note"></p>
  <h2>Trials <span id="trial-count" class="muted"></span></h2>
  <p id="verdict" class="verdict"></p>
  <section id="evidence" class="evidence" aria-live="polite" aria-label="evidence of a finding" hidden></section>
  <div id="trials" class="trials"></div>
  <vscode-collapsible title="Hardware and toolchain"><pre id="hardware"></pre></vscode-collapsible>`;
}

export function renderHeader(s: SessionState): void {
  document.body.dataset.status = s.status;
  const status = shownStatus(s);
  document.body.dataset.shownStatus = status;
  document.getElementById('title')!.textContent = sessionTitle(s);
  const stopReason = s.stopReason ? ` <span class="muted">${esc(s.stopReason)}</span>` : '';
  const cls = `status-${status.replace(/ /g, '-')}`;
  document.getElementById('status')!.innerHTML =
    `<vscode-badge class="status-badge ${cls}" role="status">${esc(status)}</vscode-badge>${stopReason}`;
  const meta = [
    esc(s.objective),
    `strategy ${esc(s.strategy)}`,
    `budget ${s.budget}`,
    `review ${reviewLabel(s.review)}`,
  ];
  const usage = s.llmUsage ? `<br><span class="muted">${esc(s.llmUsage)}</span>` : '';
  document.getElementById('meta')!.innerHTML = `${meta.join(' · ')}${usage}`;
  document.getElementById('hardware')!.textContent = `${s.hardware}\n${s.toolchain}`;
  const shown = controlsShown(s);
  (document.getElementById('pause') as HTMLElement).hidden = !shown.pause;
  (document.getElementById('resume') as HTMLElement).hidden = !shown.resume;
  (document.getElementById('stop') as HTMLElement).hidden = !shown.stop;
  (document.getElementById('show-terminal') as HTMLElement).hidden = !s.live;
  const r = s.running;
  const running = r && `running #${r.index} ${esc(configLabel(r.config))}${r.message ? ` — ${esc(r.message)}` : ''}`;
  document.getElementById('running')!.innerHTML = running
    ? `<vscode-progress-ring></vscode-progress-ring> <span>${running}</span>`
    : '';
}

export function renderNotice(n: Notice): void {
  const el = document.getElementById('notice')!;
  el.hidden = false;
  el.className = `notice ${n.level}`;
  el.textContent = n.text;
}
