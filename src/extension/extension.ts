/**
 * The extension entry: activation and wiring only. The command bodies live in commands/ (session, trial, deploy,
 * setup; ids.ts names them all), the helpers they share in context.ts (one HaqaContext built here). `activate` returns
 * a small API the extension-host tests use to reach the same objects the UI uses.
 */
import * as vscode from 'vscode';
import { VIEW_TYPE } from '../../webview/protocol';
import { registerDeployCommands } from './commands/deploy';
import { registerSessionCommands } from './commands/session';
import { registerSetupCommands } from './commands/setup';
import { registerTrialCommands } from './commands/trial';
import { HaqaContext } from './context';
import type { DeployReview } from './deployReview';
import type { ProcessRunner } from '../core/process/runner';
import type { SessionPanels } from './sessionPanel';
import type { SessionRun } from './sessionRun';
import type { TrialPty } from './trialTerminal';
import type { TrialTreeProvider } from './trialTree';
import { SCHEME } from './virtualDocs';

export interface HaqaApi {
  runs: Map<string, SessionRun>;
  panels: SessionPanels;
  review: DeployReview;
  tree: TrialTreeProvider;
  runner: ProcessRunner;
  terminal(): TrialPty;
  ptySource: string;
  /** The status bar item (the session's progress and verdict). */
  status: vscode.StatusBarItem;
}

export function activate(context: vscode.ExtensionContext): HaqaApi {
  const ctx = new HaqaContext(context);
  const refresh = () => ctx.tree.refresh();
  const watcher = vscode.workspace.createFileSystemWatcher('**/.haqa/sessions/*/session.json');
  context.subscriptions.push(
    ctx.log,
    ctx.status,
    vscode.window.createTreeView('haqa.trials', { treeDataProvider: ctx.tree, showCollapseAll: true }),
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, ctx.docs),
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, ctx.panels),
    ...registerSessionCommands(ctx),
    ...registerTrialCommands(ctx),
    ...registerDeployCommands(ctx),
    ...registerSetupCommands(ctx),
    vscode.workspace.onDidChangeWorkspaceFolders(refresh),
    ctx,
    watcher,
    watcher.onDidCreate(refresh),
    watcher.onDidChange(refresh),
    watcher.onDidDelete(refresh),
  );
  ctx.updateContextKeys();
  const { runs, panels, review, tree, runner, ptySource, status } = ctx;
  return { runs, panels, review, tree, runner, terminal: () => ctx.terminal(), ptySource, status };
}

export function deactivate(): void {}
