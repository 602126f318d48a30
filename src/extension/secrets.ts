/**
 * The LLM API key: VS Code SecretStorage first, then the environment (HAQA_LLM_API_KEY / OPENAI_API_KEY). Never
 * logged.
 */
import * as vscode from 'vscode';
import { apiKeyFromEnv } from '../core/agent/settings';
import { redact, registerSecret } from '../core/secrets';

const KEY = 'haqa.llm.apiKey';

export async function getApiKey(secrets: vscode.SecretStorage): Promise<string | undefined> {
  const stored = await secrets.get(KEY);
  registerSecret(stored); // masked in everything HAQA writes or shows (core/secrets.ts)
  return stored || apiKeyFromEnv();
}

export async function setApiKey(secrets: vscode.SecretStorage, value?: string): Promise<boolean> {
  const key =
    value ??
    (await vscode.window.showInputBox({
      title: 'HAQA: Set API Key',
      prompt: "API key of the OpenAI-compatible endpoint (stored in VS Code's secret storage; empty clears it)",
      password: true,
      ignoreFocusOut: true,
    }));
  if (key === undefined) return false;
  registerSecret(key.trim());
  if (key.trim()) await secrets.store(KEY, key.trim());
  else await secrets.delete(KEY);
  vscode.window.showInformationMessage(
    key.trim() ? 'HAQA: API key stored in the secret storage.' : 'HAQA: API key removed.',
  );
  return true;
}

/** A message for the webview with every registered key masked (it holds only JSON values). */
export function redactMessage<T>(m: T): T {
  const text = JSON.stringify(m);
  const masked = redact(text);
  return masked === text ? m : (JSON.parse(masked) as T);
}

/** The HAQA log channel with every registered key masked in what it writes. */
export function redactingLog(ch: vscode.LogOutputChannel): vscode.LogOutputChannel {
  const wrap = new Set(['trace', 'debug', 'info', 'warn', 'error', 'append', 'appendLine', 'replace']);
  return new Proxy(ch, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !wrap.has(prop) || typeof v !== 'function') return v;
      return (...args: unknown[]) =>
        (v as (...a: unknown[]) => unknown).apply(
          target,
          args.map((a) => (typeof a === 'string' ? redact(a) : a instanceof Error ? new Error(redact(a.message)) : a)),
        );
    },
  });
}
