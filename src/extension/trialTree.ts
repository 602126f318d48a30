import * as path from 'node:path';
import * as vscode from 'vscode';
import { SessionStore, type SessionMeta } from '../core/store';
import type { TrialRecord } from '../core/types';
import { shortConfig, trialDetails } from '../core/format';

type Node = { kind: 'session'; root: string; meta: SessionMeta } | { kind: 'trial'; trial: TrialRecord };

const ICONS: Record<TrialRecord['status'], string> = { done: 'pass', failed: 'error', infeasible: 'circle-slash', cancelled: 'debug-stop' };

/** Sessions → trials, read from the workspace folders' `.haqa` roots. */
export class TrialTreeProvider implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  refresh(): void {
    this.changed.fire();
  }

  private roots(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).map((f) => path.join(f.uri.fsPath, '.haqa'));
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.roots().flatMap((root) => SessionStore.list(root).reverse().map((meta) => ({ kind: 'session' as const, root, meta })));
    if (node.kind === 'session') return SessionStore.open(node.root, node.meta.id).readTrials().trials.map((trial) => ({ kind: 'trial' as const, trial }));
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'session') {
      const item = new vscode.TreeItem(`Session ${node.meta.id}`, vscode.TreeItemCollapsibleState.Collapsed);
      item.description = `${node.meta.status} · ${node.meta.strategy.used}`;
      item.contextValue = 'haqaSession';
      return item;
    }
    const t = node.trial;
    const item = new vscode.TreeItem(`#${t.index} ${shortConfig(t.config)}`, vscode.TreeItemCollapsibleState.None);
    item.description = `${t.metrics.decode ? `${t.metrics.decode.mean.toFixed(1)} t/s` : t.status}${t.findings?.length ? ' · counterintuitive' : ''}`;
    item.tooltip = trialDetails(t);
    item.iconPath = new vscode.ThemeIcon(ICONS[t.status]);
    item.contextValue = 'haqaTrial';
    return item;
  }
}
