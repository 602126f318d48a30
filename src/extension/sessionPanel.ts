/**
 * The session webview's host: one panel per session, strict CSP with a nonce, the typed protocol of
 * webview/protocol.ts with a ready handshake, and a WebviewPanelSerializer so panels come back after a window reload.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import { SessionStore } from '../core/store';
import { VIEW_TYPE, type HostMessage, type ViewMessage, type ViewPersisted } from '../../webview/protocol';
import { storedState, type SessionRun } from './sessionRun';
import { redactMessage } from './secrets';

export interface PanelActions {
  runFor(sessionId: string): SessionRun | undefined;
  acceptConfiguration(root: string, sessionId: string, trial: number): Thenable<unknown>;
  tryIt(root: string, sessionId: string, trial: number): Thenable<unknown>;
  /** Reveals the HAQA terminal (it does not open by itself). */
  showTerminal(): void;
  /** Resumes a session that is not running in this window (HAQA: Resume Session on it). */
  resume(root: string, sessionId: string): Thenable<unknown>;
  log: vscode.LogOutputChannel;
  /** Where the host keeps each session's view state (workspace storage). */
  memento: vscode.Memento;
}

export class SessionPanel {
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private runSub?: vscode.Disposable;
  /** The latest messages the view sent and the host posted (for tests and diagnosis). */
  readonly handled: ViewMessage[] = [];
  readonly sent: HostMessage[] = [];
  private readonly received = new vscode.EventEmitter<ViewMessage>();
  /** Fires after the host handled a message of the view (tests wait on it rather than on a clock). */
  readonly onDidReceive = this.received.event;

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly root: string,
    readonly sessionId: string,
    private readonly extensionUri: vscode.Uri,
    private readonly actions: PanelActions,
    private readonly onDispose: () => void,
  ) {
    panel.webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')] };
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'haqa.svg');
    panel.webview.html = this.html();
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: ViewMessage) => this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      this.received,
    );
    this.attach();
  }

  /** Follows this window's run of the session, when there is one. */
  attach(): void {
    this.runSub?.dispose();
    const run = this.actions.runFor(this.sessionId);
    if (run) this.runSub = run.onDidChange((m) => this.post(m));
  }

  post(m: HostMessage): void {
    this.sent.push(m);
    if (this.sent.length > 200) this.sent.splice(0, this.sent.length - 200);
    // The key never reaches the webview, even inside an endpoint's echoed error text (core/secrets.ts).
    if (this.ready) void this.panel.webview.postMessage(redactMessage(m));
  }

  postState(): void {
    const run = this.actions.runFor(this.sessionId);
    const state =
      run?.live && run.store ? run.state() : storedState(this.root, SessionStore.open(this.root, this.sessionId));
    this.post({ type: 'state', state });
  }

  /** The view's messages; also the path tests use to act as the view. */
  receive(m: ViewMessage): void {
    this.handled.push(m);
    if (this.handled.length > 200) this.handled.splice(0, this.handled.length - 200);
    const run = this.actions.runFor(this.sessionId);
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.postState();
        break;
      case 'proposal': {
        const reasons = run
          ? run.decide(m.id, m.action === 'accept-all' ? { action: 'accept-all' } : { action: m.action })
          : ['the session is not running in this window'];
        if (reasons.length) this.post({ type: 'notice', text: reasons.join('; '), level: 'error' });
        break;
      }
      case 'override': {
        const reasons = run
          ? run.decide(m.id, { action: 'override', config: m.config })
          : ['the session is not running in this window'];
        this.post({ type: 'override-result', id: m.id, ok: reasons.length === 0, reasons });
        break;
      }
      case 'control':
        // Resume on a session not running here (a panel restored after a reload): carry it on, as Resume Session does.
        if (!run?.live && m.action === 'resume') {
          void this.actions.resume(this.root, this.sessionId);
          break;
        }
        if (!run) {
          this.post({ type: 'notice', text: 'the session is not running in this window', level: 'error' });
          break;
        }
        if (m.action === 'pause') run.pause();
        else if (m.action === 'resume') run.resume();
        else run.stop();
        break;
      case 'accept-config':
        void this.actions.acceptConfiguration(this.root, this.sessionId, m.trial);
        break;
      case 'try-it':
        void this.actions.tryIt(this.root, this.sessionId, m.trial);
        break;
      case 'show-terminal':
        this.actions.showTerminal();
        break;
      case 'view-state':
        void this.actions.memento.update(`haqa.view.${this.sessionId}`, { sort: m.sort });
        break;
      default:
        this.actions.log.warn(`webview: unknown message ${JSON.stringify(m).slice(0, 200)}`);
    }
    this.received.fire(m);
  }

  private html(): string {
    const w = this.panel.webview;
    const nonce = crypto.randomBytes(16).toString('base64');
    const script = w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const style = w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.css'));
    const kept = this.actions.memento.get<Pick<ViewPersisted, 'sort'>>(`haqa.view.${this.sessionId}`);
    const persisted: ViewPersisted = { sessionId: this.sessionId, root: this.root, sort: kept?.sort };
    const session = encodeURIComponent(JSON.stringify(persisted));
    const csp = [
      "default-src 'none'",
      `img-src ${w.cspSource} data:`,
      `style-src ${w.cspSource}`,
      `font-src ${w.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp};">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>HAQA session ${this.sessionId}</title>
</head>
<body>
<div id="app" data-session="${session}"><p class="muted">Loading session ${this.sessionId}…</p></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.runSub?.dispose();
    for (const d of this.disposables) d.dispose();
    this.onDispose();
  }
}

export class SessionPanels implements vscode.WebviewPanelSerializer<ViewPersisted> {
  readonly panels = new Map<string, SessionPanel>();
  private readonly opened = new vscode.EventEmitter<SessionPanel>();
  /** Fires when a session's panel opens (or comes back after a reload). */
  readonly onDidOpen = this.opened.event;
  /** The session whose panel was last in front (the status bar follows it); none once that panel closed. */
  active?: string;
  private readonly activated = new vscode.EventEmitter<string>();
  /** Fires when a session's panel comes to the front, and when the panel in front closes (`active` is then unset). */
  readonly onDidActivate = this.activated.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly actions: PanelActions,
  ) {}

  show(root: string, sessionId: string): SessionPanel {
    const open = this.panels.get(sessionId);
    if (open) {
      open.attach();
      open.panel.reveal();
      return open;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, `HAQA ${sessionId}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist')],
    });
    return this.adopt(panel, root, sessionId);
  }

  private adopt(panel: vscode.WebviewPanel, root: string, sessionId: string): SessionPanel {
    const p = new SessionPanel(panel, root, sessionId, this.extensionUri, this.actions, () => {
      this.panels.delete(sessionId);
      if (this.active !== sessionId) return;
      this.active = undefined;
      this.activated.fire(sessionId);
    });
    this.panels.set(sessionId, p);
    const front = () => {
      this.active = sessionId;
      this.activated.fire(sessionId);
    };
    panel.onDidChangeViewState((e) => {
      if (e.webviewPanel.active) front();
    });
    if (panel.active) front();
    this.opened.fire(p);
    return p;
  }

  /** A new run of a session: panels already open follow it. */
  attachRun(sessionId: string): void {
    const p = this.panels.get(sessionId);
    if (p) {
      p.attach();
      p.postState();
    }
  }

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: ViewPersisted | undefined): Promise<void> {
    if (!state?.sessionId || !state.root) {
      panel.dispose();
      return;
    }
    try {
      SessionStore.open(state.root, state.sessionId);
    } catch {
      panel.webview.html = '<!DOCTYPE html><html><body><p>This HAQA session no longer exists.</p></body></html>';
      return;
    }
    this.adopt(panel, state.root, state.sessionId);
  }
}
