import * as path from 'node:path';
import * as vscode from 'vscode';
import { SessionStore, type SessionMeta } from '../core/store';
import { paretoFront } from '../core/objective';
import { verdict } from '../core/verdict';
import { wasMeasured, type Config, type TrialRecord, type TrialStatus } from '../core/types';
import { shortConfig, trialDetails } from '../core/format';
import type { SessionRun } from './sessionRun';
import { Commands } from './commands/ids';

export type TreeNode =
  | { kind: 'session'; root: string; meta: SessionMeta }
  | {
      kind: 'trial';
      root: string;
      sessionId: string;
      trial: TrialRecord;
      mark?: 'best' | 'tied' | 'pareto';
      /** The trial the deploy config serves (session.json `deployed`). */
      deployed?: boolean;
    }
  | {
      kind: 'live';
      root: string;
      sessionId: string;
      state: 'running' | 'queued';
      index: number;
      config: Config;
      message?: string;
    };

const ICONS: Record<TrialStatus, [string, string?]> = {
  done: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  infeasible: ['circle-slash', 'list.warningForeground'],
  cancelled: ['debug-stop'],
  skipped: ['debug-step-over'],
};

/** Sessions → trials, read from the `.haqa` roots, with this window's running sessions' live trials on top. */
export class TrialTreeProvider implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly roots: () => string[],
    private readonly runFor: (id: string) => SessionRun | undefined,
  ) {}

  refresh(): void {
    this.changed.fire();
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node)
      return this.roots().flatMap((root) =>
        SessionStore.list(root)
          .reverse()
          .map((meta) => ({ kind: 'session' as const, root, meta })),
      );
    if (node.kind !== 'session') return [];
    const run = this.runFor(node.meta.id);
    const trials = run?.live ? run.trials : SessionStore.open(node.root, node.meta.id).readTrials().trials;
    const { objective } = node.meta.spec;
    const v = verdict(objective, trials);
    const tied = new Set(v.tied);
    const front = new Set(paretoFront(objective, trials).map((t) => t.index));
    const out: TreeNode[] = trials.map((trial) => ({
      kind: 'trial' as const,
      root: node.root,
      sessionId: node.meta.id,
      trial,
      deployed: node.meta.deployed?.trial === trial.index,
      mark:
        trial.index === v.best
          ? ('best' as const)
          : tied.has(trial.index)
            ? ('tied' as const)
            : front.has(trial.index)
              ? ('pareto' as const)
              : undefined,
    }));
    if (run?.running)
      out.push({
        kind: 'live',
        root: node.root,
        sessionId: node.meta.id,
        state: 'running',
        index: run.running.index,
        config: run.running.config,
        message: run.running.message,
      });
    if (run?.pending)
      out.push({
        kind: 'live',
        root: node.root,
        sessionId: node.meta.id,
        state: 'queued',
        index: run.pending.id,
        config: run.pending.config,
      });
    return out;
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.kind === 'session') {
      const run = this.runFor(node.meta.id);
      // A running session waiting for the person's word on a proposal runs nothing: "awaiting review", no spinner.
      const waiting = run?.status === 'running' && !!run.pending;
      const status = waiting
        ? 'awaiting review'
        : run?.store
          ? run.status
          : node.meta.status === 'running'
            ? 'interrupted'
            : node.meta.status;
      const item = new vscode.TreeItem(
        `Session ${node.meta.id}`,
        run?.live ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
      );
      const { model } = node.meta;
      item.description = `${status} · ${node.meta.strategy.used}${model?.name ? ` · ${model.name}` : ''}`;
      item.tooltip = `${path.join(node.root, 'sessions', node.meta.id)}\n${node.meta.stopReason ?? ''}`;
      item.iconPath = new vscode.ThemeIcon(waiting ? 'bell-dot' : run?.live ? 'loading~spin' : 'beaker');
      // A completed session has nothing to resume: its menu offers Open, Accept and Delete, not Resume.
      item.contextValue = run?.live
        ? 'haqaSessionLive'
        : status === 'completed'
          ? 'haqaSessionCompleted'
          : 'haqaSession';
      item.command = { command: Commands.openSession, title: 'Open Session', arguments: [node] };
      item.id = `session:${node.root}:${node.meta.id}`;
      return item;
    }
    if (node.kind === 'live') {
      const item = new vscode.TreeItem(
        `#${node.index} ${shortConfig(node.config)}`,
        vscode.TreeItemCollapsibleState.None,
      );
      item.description =
        node.state === 'running' ? `running${node.message ? ` · ${node.message}` : ''}` : 'queued · awaiting review';
      item.iconPath = new vscode.ThemeIcon(node.state === 'running' ? 'loading~spin' : 'clock');
      item.contextValue = node.state === 'running' ? 'haqaTrialRunning' : 'haqaTrialQueued';
      item.id = `live:${node.sessionId}:${node.index}:${node.state}`;
      return item;
    }
    const t = node.trial;
    const item = new vscode.TreeItem(`#${t.index} ${shortConfig(t.config)}`, vscode.TreeItemCollapsibleState.None);
    const mark =
      node.mark === 'best'
        ? '★ best · '
        : node.mark === 'tied'
          ? '≈ best · '
          : node.mark === 'pareto'
            ? 'Pareto · '
            : '';
    const speed = t.metrics.decode ? `${t.metrics.decode.mean.toFixed(1)} t/s` : t.status;
    item.description = `${node.deployed ? 'deployed · ' : ''}${mark}${speed}${t.findings?.length ? ' · counterintuitive' : ''}`;
    const md = new vscode.MarkdownString();
    if (node.deployed) md.appendMarkdown('**Deployed**: the deploy config serves this trial.\n\n');
    md.appendCodeblock(trialDetails(t), 'text');
    item.tooltip = md;
    const [icon, color] = node.deployed
      ? ['rocket', 'charts.green']
      : node.mark === 'best'
        ? ['star-full', 'charts.yellow']
        : ICONS[t.status];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.contextValue = wasMeasured(t) ? 'haqaTrialMeasured' : 'haqaTrial';
    item.id = `trial:${node.sessionId}:${t.index}`;
    return item;
  }
}
