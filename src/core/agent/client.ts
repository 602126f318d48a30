/**
 * One chat-completions call through the `openai` client, with HAQA's own bounded retries (429 / 5xx / timeout /
 * dropped connection, honouring Retry-After up to a cap) and errors that name the cause and the fix.
 */
import OpenAI from 'openai';
import { HaqaError, type Fix } from '../errors';
import type { LlmSettings, OutputMode } from './settings';
import { maskCredentials, redact } from '../secrets';

export type LlmErrorKind =
  | 'auth'
  | 'not-found'
  | 'bad-request'
  | 'context'
  | 'rate-limit'
  | 'server'
  | 'timeout'
  | 'network'
  | 'aborted'
  | 'empty'
  | 'bad-reply'
  | 'invalid';

/** A failed LLM call. `kind` decides what the agent does next (retry, step down the output mode, fall back). */
export class LlmError extends HaqaError {
  constructor(
    readonly kind: LlmErrorKind,
    message: string,
    fix: string | Fix,
    readonly attempts = 1,
    readonly status?: number,
  ) {
    super(message, fix, 'llm');
  }
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Exactly what goes over the wire (minus the Authorization header): what `--show-prompt` prints. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  seed?: number;
  response_format?:
    | { type: 'json_object' }
    | { type: 'json_schema'; json_schema: { name: string; strict: boolean; schema: Record<string, unknown> } };
  tools?: {
    type: 'function';
    function: { name: string; description: string; parameters: Record<string, unknown>; strict?: boolean };
  }[];
  tool_choice?: { type: 'function'; function: { name: string } };
}

export interface ChatResult {
  /** The reply text (message content, or the tool call's arguments in tool mode). */
  text: string;
  finishReason?: string;
  promptTokens?: number;
  completionTokens?: number;
  attempts: number;
  ms: number;
}

const RETRYABLE: LlmErrorKind[] = ['rate-limit', 'server', 'timeout', 'network', 'bad-reply'];

/** Milliseconds a 429/5xx response asks to wait (retry-after-ms, Retry-After seconds or HTTP date), if it says. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers?.get('retry-after');
  if (!ra) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Number(ra) * 1000;
  const t = Date.parse(ra);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 8 s. */
const backoffMs = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 8000) * (1 - Math.random() * 0.25);

function serverMessage(e: InstanceType<typeof OpenAI.APIError>): string {
  const err = e.error as { message?: unknown } | undefined;
  const m = typeof err?.message === 'string' ? err.message : e.message;
  // Masked before it is cut: a key echoed across the cut would otherwise survive in part.
  return maskCredentials(redact(m.replace(/\s+/g, ' '))).slice(0, 300);
}

/** Maps whatever the client threw to an LlmError with the cause and the fix. */
export function classify(e: unknown, s: Pick<LlmSettings, 'baseUrl' | 'model' | 'timeoutMs'>): LlmError {
  if (e instanceof LlmError) return e;
  const where = s.baseUrl;
  if (e instanceof OpenAI.APIUserAbortError)
    return new LlmError('aborted', 'the LLM call was cancelled', 'nothing to fix: the session was stopped');
  if (e instanceof OpenAI.APIConnectionTimeoutError) {
    return new LlmError(
      'timeout',
      `the LLM endpoint ${where} did not answer within ${(s.timeoutMs / 1000).toFixed(1)} s`,
      {
        cli: 'raise --llm-timeout, or use a faster model or endpoint',
        // The extension has no timeout setting (yet): a faster model or endpoint is its way.
        vscode: 'use a faster model ({option}) or endpoint',
        setting: 'haqa.llm.model',
      },
    );
  }
  if (e instanceof OpenAI.APIConnectionError) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return new LlmError(
      'network',
      `cannot reach the LLM endpoint ${where}: ${cause?.code ?? cause?.message ?? e.message}`,
      'check that the server is running and the base URL (including /v1) is right',
    );
  }
  if (e instanceof OpenAI.APIError) {
    const status = e.status ?? 0;
    const msg = serverMessage(e);
    if (status === 401 || status === 403) {
      return new LlmError(
        'auth',
        `the LLM endpoint ${where} rejected the API key (HTTP ${status}: ${msg})`,
        {
          cli: 'set a valid key: HAQA_LLM_API_KEY / OPENAI_API_KEY for the CLI, "HAQA: Set API Key" in VS Code',
          vscode: 'set a valid key with {command}',
          command: { vscode: 'haqa.setApiKey' },
        },
        1,
        status,
      );
    }
    if (status === 404)
      return new LlmError(
        'not-found',
        `the LLM endpoint ${where} has no model "${s.model}" or no chat-completions route (HTTP 404: ${msg})`,
        {
          text: 'check {option} (Azure: the deployment name) and that the base URL ends in /v1',
          flag: '--llm-model',
          setting: 'haqa.llm.model',
        },
        1,
        status,
      );
    const code = (e as { code?: unknown }).code;
    if (
      (status === 400 || status === 413) &&
      (code === 'context_length_exceeded' ||
        /context (size|length|window)|maximum context|too many tokens|prompt is too long/i.test(msg))
    ) {
      return new LlmError(
        'context',
        `the prompt does not fit the LLM's context at ${where} (HTTP ${status}: ${msg})`,
        {
          text: 'lower {option}, or give the server a larger context (llama-server -c, Ollama num_ctx)',
          flag: '--llm-max-prompt-tokens',
          setting: 'haqa.llm.maxPromptTokens',
        },
        1,
        status,
      );
    }
    if (status === 429)
      return new LlmError(
        'rate-limit',
        `the LLM endpoint ${where} is rate-limiting (HTTP 429: ${msg})`,
        "wait, lower the request rate, or raise the account's limits",
        1,
        status,
      );
    if (status >= 500)
      return new LlmError(
        'server',
        `the LLM endpoint ${where} failed (HTTP ${status}: ${msg})`,
        "retry later; check the server's log",
        1,
        status,
      );
    return new LlmError(
      'bad-request',
      `the LLM endpoint ${where} refused the request (HTTP ${status}: ${msg})`,
      'check the model name and that the endpoint speaks the chat-completions protocol',
      1,
      status,
    );
  }
  // A 200 whose body is not the protocol's JSON (a proxy's HTML page, a cut-off reply): the reply is bad, the network
  // is fine. Retried, then the built-in strategy takes over — never a failed session.
  if (e instanceof SyntaxError || (e instanceof TypeError && /choices|undefined|null/.test(e.message)))
    return new LlmError(
      'bad-reply',
      `the LLM endpoint ${where} answered with something that is not a chat-completions reply ` +
        `(${maskCredentials(redact(e.message)).slice(0, 200)})`,
      'check that the base URL points at an OpenAI-compatible server (including /v1), not a proxy or web page',
    );
  return new LlmError(
    'network',
    `LLM call failed: ${e instanceof Error ? e.message : String(e)}`,
    'check the endpoint',
  );
}

export class LlmClient {
  private readonly client: OpenAI;

  constructor(
    readonly settings: LlmSettings,
    apiKey: string | undefined,
  ) {
    // Local servers (Ollama, llama-server, vLLM) need no key, but the client wants one: send a placeholder.
    this.client = new OpenAI({
      apiKey: apiKey || 'no-key',
      baseURL: settings.baseUrl,
      maxRetries: 0,
      timeout: settings.timeoutMs,
    });
  }

  /** The request's URL, for display. */
  get url(): string {
    return `${this.settings.baseUrl}/chat/completions`;
  }

  async chat(
    req: ChatRequest,
    mode: OutputMode,
    opts: { signal?: AbortSignal; onRetry?: (why: string, waitMs: number) => void } = {},
  ): Promise<ChatResult> {
    const t0 = Date.now();
    const maxAttempts = this.settings.maxRetries + 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.client.chat.completions.create(req as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, {
          signal: opts.signal,
          timeout: this.settings.timeoutMs,
          maxRetries: 0,
        });
        const choice = r.choices?.[0];
        const msg = choice?.message;
        const text =
          mode === 'tool'
            ? (msg?.tool_calls?.find((c) => c.type === 'function')?.function.arguments ?? msg?.content ?? '')
            : (msg?.content ?? '');
        if (!text.trim()) {
          const reason = choice?.finish_reason ? ` (finish_reason ${choice.finish_reason})` : '';
          throw new LlmError(
            'empty',
            `the LLM endpoint ${this.settings.baseUrl} returned an empty reply${reason}`,
            'try another model, or a larger context on a local server',
            attempt,
          );
        }
        return {
          text,
          finishReason: choice?.finish_reason ?? undefined,
          promptTokens: r.usage?.prompt_tokens,
          completionTokens: r.usage?.completion_tokens,
          attempts: attempt,
          ms: Date.now() - t0,
        };
      } catch (e) {
        const err = classify(e, this.settings);
        if (!RETRYABLE.includes(err.kind) || opts.signal?.aborted) throw withAttempts(err, attempt);
        if (attempt >= maxAttempts)
          throw withAttempts(
            new LlmError(
              err.kind,
              `${err.message}; gave up after ${attempt} attempt${attempt > 1 ? 's' : ''}`,
              err.fixSpec,
              attempt,
              err.status,
            ),
            attempt,
          );
        const asked = e instanceof OpenAI.APIError ? retryAfterMs(e.headers ?? undefined) : undefined;
        if (asked !== undefined && asked > this.settings.maxRetryAfterMs) {
          const after = (asked / 1000).toFixed(0);
          const waits = (this.settings.maxRetryAfterMs / 1000).toFixed(0);
          throw new LlmError(
            err.kind,
            `${err.message}; it asks to retry after ${after} s, longer than the ${waits} s HAQA waits`,
            err.fixSpec,
            attempt,
            err.status,
          );
        }
        const wait = asked ?? backoffMs(attempt);
        opts.onRetry?.(`${err.message}`, wait);
        await sleep(wait, opts.signal);
      }
    }
  }
}

function withAttempts(e: LlmError, attempts: number): LlmError {
  return e.attempts === attempts ? e : new LlmError(e.kind, e.message, e.fixSpec, attempts, e.status);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', done);
      resolve();
    }, ms);
    const done = () => {
      clearTimeout(t);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
  });
}
