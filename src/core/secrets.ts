/**
 * Keeping the agent's API key out of everything HAQA writes. The key lives in memory only (from the environment or
 * VS Code's secret storage); whoever reads it registers it here. Then:
 * - `redact(text)` replaces it by a short mask (`sk-…1234`) — the session store, the journal, the CLI's output and the
 *   extension's log and webview pass their text through it, so an endpoint that echoes the Authorization header in an
 *   error cannot put the key on disk or on screen;
 * - `childEnv()` is the environment every tool process gets: without the key variables, and without any variable
 *   whose value is a registered key (a llama.cpp tool, or anything it runs, never sees it).
 */

/** The environment variables HAQA reads a key from; never passed to a child. */
export const KEY_VARIABLES = ['HAQA_LLM_API_KEY', 'OPENAI_API_KEY'] as const;

const secrets = new Set<string>();

/** Remembers a secret for redaction. Values shorter than 8 characters are not treated as keys (too many false hits). */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) secrets.add(value);
}

/** The mask a key is shown as: its first 3 and last 4 characters, e.g. `sk-…1234`. */
export const maskSecret = (s: string) => (s.length >= 12 ? `${s.slice(0, 3)}…${s.slice(-4)}` : '…');

/** The text with every registered secret masked. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(maskSecret(s));
  return out;
}

/**
 * The text with anything shaped like a credential masked too — `Bearer <token>`, `sk-…` keys — for text from outside
 * (an endpoint's error) that may echo a key HAQA never saw whole.
 */
export function maskCredentials(text: string): string {
  return text
    .replace(/\b(Bearer|Basic)\s+[\w.~+/=-]{8,}/gi, (_m, scheme: string) => `${scheme} …`)
    .replace(/\bsk-[\w-]{8,}/g, (k: string) => maskSecret(k));
}

/** True when the text holds a registered secret (a test's and a guard's check). */
export const holdsSecret = (text: string) => [...secrets].some((s) => text.includes(s));

/** The environment for a child process: the parent's, without the key variables and without any registered key. */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if ((KEY_VARIABLES as readonly string[]).includes(k)) continue;
    if (v !== undefined && holdsSecret(v)) continue;
    out[k] = v;
  }
  return out;
}
