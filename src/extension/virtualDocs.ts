/** Read-only in-memory documents (scheme `haqa`) for diffs: proposed deploy files, trial comparisons, empty bases. */
import * as vscode from 'vscode';

export const SCHEME = 'haqa';

export class VirtualDocs implements vscode.TextDocumentContentProvider {
  private readonly docs = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private n = 0;

  /** Stores `content` under a fresh URI ending in `name` (so the editor picks the language from it). */
  put(name: string, content: string, kind = 'doc'): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${kind}/${++this.n}/${name}` });
    this.docs.set(uri.toString(), content);
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.docs.get(uri.toString()) ?? '';
  }

  drop(uri: vscode.Uri): void {
    this.docs.delete(uri.toString());
  }
}
