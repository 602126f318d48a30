/** Commands on a session: start, resume, stop, pause, open, delete, its agent prompt, and the tree's Refresh. */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { promptPreview } from '../../core/agent/agent';
import { DEFAULT_MODEL } from '../../core/agent/settings';
import { HaqaError } from '../../core/errors';
import { acquireSessionLock } from '../../core/lock';
import { strategyContext } from '../../core/prepare';
import { SessionStore } from '../../core/store';
import type { HaqaContext, Target } from '../context';
import { optimizeRequest, type OptimizeArgs } from '../optimizeFlow';
import { getApiKey } from '../secrets';
import { llmSettingsFrom, readSettings } from '../settings';
import { Commands } from './ids';

export function registerSessionCommands(ctx: HaqaContext): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(Commands.refreshTrials, () => ctx.tree.refresh()),
    ctx.command(Commands.optimizeModel, (arg?: vscode.Uri | OptimizeArgs) => optimizeModel(ctx, arg)),
    ctx.command(Commands.resumeSession, (t?: Target) => resumeSession(ctx, t)),
    vscode.commands.registerCommand(Commands.stopSession, (t?: Target) => stopSession(ctx, t)),
    vscode.commands.registerCommand(Commands.pauseSession, () => {
      const r = ctx.current();
      // Hidden from the palette without a running session; a key binding may still call it: it says so.
      if (!r) void vscode.window.showInformationMessage('HAQA: no session is running.');
      r?.pause();
      return !!r;
    }),
    ctx.command(Commands.openSession, async (t?: Target) => {
      const r = ctx.need(t);
      return ctx.panels.show(r.root, r.sessionId) && r.sessionId;
    }),
    ctx.command(Commands.deleteSession, (t?: Target) => deleteSession(ctx, t)),
    ctx.command(Commands.showAgentPrompt, (t?: Target) => showAgentPrompt(ctx, t)),
  ];
}

/** From the palette (asks), the Explorer (a .gguf Uri) or a caller with OptimizeArgs (asks nothing). */
async function optimizeModel(ctx: HaqaContext, arg?: vscode.Uri | OptimizeArgs) {
  ctx.requireTrust();
  const args: OptimizeArgs = arg instanceof vscode.Uri ? { model: arg.fsPath } : (arg ?? {});
  const interactive = !(arg && !(arg instanceof vscode.Uri));
  const req = await optimizeRequest(args, readSettings(), () => ctx.ensureToolchain(), interactive);
  if (!req) return undefined;
  const run = await ctx.startRun(req);
  if (args.wait) await run.finished();
  return { sessionId: run.id, root: req.root, status: run.status };
}

/** Resumes a paused run of this window, else continues a stored session (picked when none is given). */
async function resumeSession(ctx: HaqaContext, t?: Target) {
  const live = t === undefined ? ctx.current() : ctx.runs.get(ctx.resolveTarget(t)?.sessionId ?? '');
  if (live?.live) {
    live.resume();
    return { sessionId: live.id, status: live.status };
  }
  let target = t ? ctx.resolveTarget(t) : undefined;
  if (!target) {
    // The sessions a resume continues: not completed, not running here (the same rule as haqa.canResume).
    const items = ctx.roots().flatMap((root) =>
      SessionStore.list(root)
        .reverse()
        .filter((m) => m.status !== 'completed' && !ctx.runs.get(m.id)?.live)
        .map((m) => ({
          label: `Session ${m.id}`,
          description: `${m.status}${m.stopReason ? ` · ${m.stopReason}` : ''}`,
          root,
          id: m.id,
        })),
    );
    if (!items.length) {
      void vscode.window.showInformationMessage('HAQA: every session here completed; none is left to resume.');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(items, { title: 'HAQA: Resume Session' });
    if (!pick) return undefined;
    target = { root: pick.root, sessionId: pick.id };
  }
  const store = SessionStore.open(target.root, target.sessionId);
  // "Accept all remaining", chosen before, holds on resume.
  const review = store.meta.acceptAll ? 'auto' : readSettings().review;
  const run = await ctx.startRun({ root: target.root, spec: store.meta.spec, review }, store);
  return { sessionId: run.id, status: run.status };
}

function stopSession(ctx: HaqaContext, t?: Target): boolean {
  const id = t ? ctx.resolveTarget(t)?.sessionId : ctx.current()?.id;
  const run = id ? ctx.runs.get(id) : undefined;
  if (!run?.live) {
    void vscode.window.showInformationMessage('HAQA: no session is running.');
    return false;
  }
  run.stop();
  return true;
}

async function deleteSession(ctx: HaqaContext, t?: Target): Promise<boolean> {
  const r = ctx.need(t);
  if (ctx.runs.get(r.sessionId)?.live) throw new HaqaError('the session is running', 'stop it first', 'input');
  const dir = SessionStore.open(r.root, r.sessionId).dir;
  // A caller (script, test) that already asked may pass { confirmed: true }; the UI always asks.
  const ok =
    t && (t as { confirmed?: boolean }).confirmed === true
      ? true
      : (await vscode.window.showWarningMessage(
          `Delete HAQA session ${r.sessionId} and its logs (${dir})? Cached quantized files stay.`,
          { modal: true },
          'Delete',
        )) === 'Delete';
  if (!ok) return false;
  // Another process (a terminal's `haqa optimize --resume`) may be writing it: taken, the lock refuses with its PID.
  const lock = acquireSessionLock(dir, 'VS Code: Delete Session');
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    lock.release();
  }
  ctx.runs.delete(r.sessionId);
  ctx.panels.panels.get(r.sessionId)?.panel.dispose();
  ctx.tree.refresh();
  return true;
}

/** The request the agent would send next for this session, without the key. */
async function showAgentPrompt(ctx: HaqaContext, t?: Target): Promise<string> {
  const r = ctx.need(t);
  const { store, prepared } = await ctx.preparedFor(r.root, r.sessionId);
  const s = readSettings();
  const key = await getApiKey(ctx.extension.secrets);
  const llm = llmSettingsFrom(s);
  const preview = promptPreview({
    strategy: undefined,
    settings: llm,
    model: s.llm.model ?? DEFAULT_MODEL,
    hasKey: !!key,
    history: ctx.currentTrials(store),
    ctx: strategyContext(prepared, store.meta.spec),
  });
  const doc = await vscode.workspace.openTextDocument({
    content: JSON.stringify(preview, null, 2),
    language: 'json',
  });
  await vscode.window.showTextDocument(doc);
  return doc.getText();
}
