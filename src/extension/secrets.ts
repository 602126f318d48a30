/**
 * The LLM API key: VS Code SecretStorage first, then the environment (HAQA_LLM_API_KEY / OPENAI_API_KEY). Never
 * logged.
 */
import * as vscode from 'vscode';
import { apiKeyFromEnv } from '../core/agent/settings';

const KEY = 'haqa.llm.apiKey';

export async function getApiKey(secrets: vscode.SecretStorage): Promise<string | undefined> {
  return (await secrets.get(KEY)) || apiKeyFromEnv();
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
  if (key.trim()) await secrets.store(KEY, key.trim());
  else await secrets.delete(KEY);
  vscode.window.showInformationMessage(
    key.trim() ? 'HAQA: API key stored in the secret storage.' : 'HAQA: API key removed.',
  );
  return true;
}
