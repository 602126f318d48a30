/** Settings of the LLM agent: the same names in the CLI (`--llm-*`), the environment and (later) `haqa.llm.*`. */
import { HaqaError } from '../errors';
import { registerSecret } from '../secrets';

export const OUTPUT_MODES = ['json_schema', 'json_object', 'tool', 'text'] as const;
/** How a structured reply is asked for, strictest first; the agent steps down when an endpoint refuses one. */
export type OutputMode = (typeof OUTPUT_MODES)[number];

export interface LlmSettings {
  /** OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1. */
  baseUrl: string;
  model: string;
  /** Sampling temperature; undefined = the server's default (some reasoning models accept nothing else). */
  temperature?: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** Retries after a 429, a 5xx, a timeout or a dropped connection (so at most maxRetries + 1 attempts). */
  maxRetries: number;
  /** The longest Retry-After the agent waits; a server asking for more fails the call with that cause. */
  maxRetryAfterMs: number;
  /** Prompt size bound (estimated tokens); the trial history is compacted to stay under it. */
  maxPromptTokens: number;
  /** Most proposals per reply. */
  proposalsPerCall: number;
  /** Rounds in which invalid proposals go back to the LLM with the reasons. */
  repairRounds: number;
  /** Consecutive failed calls after which the built-in strategy takes over for the rest of the session. */
  maxFailures: number;
  /** USD per million prompt / completion tokens, to record a cost; undefined = tokens only. */
  priceInPerMTok?: number;
  priceOutPerMTok?: number;
  /** Start in this output mode (a resumed session remembers what its endpoint accepted). */
  mode?: OutputMode;
}

export const DEFAULT_LLM: Omit<LlmSettings, 'baseUrl' | 'model'> = {
  timeoutMs: 120_000,
  maxRetries: 3,
  maxRetryAfterMs: 60_000,
  maxPromptTokens: 6000,
  proposalsPerCall: 2,
  repairRounds: 2,
  maxFailures: 2,
};

export const DEFAULT_MODEL = 'gpt-4o-mini';

/** The API key from the environment (the extension passes the one from SecretStorage instead). Never logged. */
export function apiKeyFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = env.HAQA_LLM_API_KEY || env.OPENAI_API_KEY || undefined;
  registerSecret(key);
  return key;
}

/** Checks a base URL: http(s) only, no credentials inside it (they would end up in session files and logs). */
export function checkBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HaqaError(
      `LLM base URL "${url}" is not a URL`,
      "give the endpoint's base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1",
      'usage',
    );
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new HaqaError(
      `LLM base URL must be http or https, got ${u.protocol}`,
      "use the endpoint's http(s) base URL",
      'usage',
    );
  if (u.username || u.password)
    throw new HaqaError(
      'the LLM base URL contains credentials',
      {
        cli: 'put the key in HAQA_LLM_API_KEY (CLI) or "HAQA: Set API Key" (VS Code), not in the URL',
        vscode: 'take them out of {option} and store the key with {command}',
        setting: 'haqa.llm.baseUrl',
        command: { vscode: 'haqa.setApiKey' },
      },
      'usage',
    );
  return url.replace(/\/+$/, '');
}
