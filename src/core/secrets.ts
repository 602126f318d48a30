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

/** Each registered secret, and each way it can be spelled in text HAQA writes, mapped to the secret. */
const secrets = new Map<string, string>();

/**
 * Remembers a secret for redaction. Values shorter than 8 characters are not treated as keys (too many false hits).
 * Its spellings inside a JSON string (a key with a quote or a backslash is escaped there) and inside a URL are
 * registered too.
 */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 8) return;
  for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) secrets.set(form, value);
}

/** The mask a key is shown as: its first 3 and last 4 characters, e.g. `sk-…1234`. */
export const maskSecret = (s: string) => (s.length >= 12 ? `${s.slice(0, 3)}…${s.slice(-4)}` : '…');

/** The text with every registered secret masked. */
export function redact(text: string): string {
  let out = text;
  // The longest spelling first: an escaped form contains pieces of the plain one.
  const forms = [...secrets.keys()].sort((a, b) => b.length - a.length);
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(maskSecret(secrets.get(f)!));
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
export const holdsSecret = (text: string) => [...secrets.keys()].some((s) => text.includes(s));

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
