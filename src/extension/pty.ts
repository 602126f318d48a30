/**
 * node-pty for the live terminal: VS Code's own first (its appRoot's node_modules, built for its runtime), then the one
 * installed with HAQA, else none (the runner falls back to pipes and says so).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PtyModule } from '../core/process/runner';

export function loadPty(): { pty?: PtyModule; from: string } {
  const root = vscode.env.appRoot;
  const candidates = [
    path.join(root, 'node_modules', 'node-pty'),
    path.join(root, 'node_modules.asar', 'node-pty'),
    'node-pty',
  ];
  for (const c of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const m = require(c) as PtyModule;
      if (typeof m.spawn === 'function')
        return { pty: m, from: c === 'node-pty' ? "HAQA's node-pty" : `VS Code's node-pty (${c})` };
    } catch {
      /* next */
    }
  }
  return { from: 'none' };
}
