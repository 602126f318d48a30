/**
 * A real HTTP server speaking the OpenAI chat-completions protocol, answering from a script. Tests point the real
 * `openai` client (through HAQA's agent) at it: nothing in the client is mocked.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever JSON a client sent
  body: Record<string, any>;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** A full JSON body (overrides content/toolArgs). */
  body?: unknown;
  /** Assistant message content (or, in a tool-mode request, the function arguments). */
  content?: string;
  delayMs?: number;
  /** Destroy the socket instead of answering. */
  hangUp?: boolean;
}

export type Responder = (req: RecordedRequest, n: number) => Reply | Promise<Reply>;

export interface ServerOptions {
  /** Answer 400 to response_format json_schema, like servers without structured outputs. */
  noJsonSchema?: boolean;
  /** Answer 400 to response_format json_object too. */
  noJsonObject?: boolean;
  /** Require this bearer key; anything else gets 401. */
  apiKey?: string;
}

/** The JSON of a chat.completion the way OpenAI returns it. */
export function completion(req: RecordedRequest, content: string): Record<string, unknown> {
  const tool = Array.isArray(req.body.tools) && req.body.tools.length > 0;
  const message = tool
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: req.body.tools[0].function.name, arguments: content } },
        ],
      }
    : { role: 'assistant', content };
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: req.body.model,
    choices: [{ index: 0, message, finish_reason: tool ? 'tool_calls' : 'stop', logprobs: null }],
    usage: {
      prompt_tokens: Math.ceil(req.raw.length / 4),
      completion_tokens: Math.ceil(content.length / 4),
      total_tokens: Math.ceil((req.raw.length + content.length) / 4),
    },
  };
}

export const errorBody = (message: string, type = 'invalid_request_error', param: string | null = null) => ({
  error: { message, type, param, code: null },
});

export class OpenAiTestServer {
  readonly requests: RecordedRequest[] = [];
  private server?: http.Server;
  url = '';

  constructor(
    private responder: Responder,
    private readonly opts: ServerOptions = {},
  ) {}

  setResponder(r: Responder): void {
    this.responder = r;
  }

  /** Requests that reached the responder (not the ones refused for their response format or key). */
  get chatRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.url.endsWith('/chat/completions'));
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    let body: Record<string, any> = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      /* answered below */
    }
    const rec: RecordedRequest = {
      at: Date.now(),
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      raw,
      body,
    };
    this.requests.push(rec);
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    if (req.method !== 'POST' || !rec.url.endsWith('/chat/completions'))
      return send(404, errorBody(`no route ${req.method} ${rec.url}`));
    if (!raw || !body.model || !Array.isArray(body.messages))
      return send(400, errorBody('model and messages are required'));
    if (this.opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.opts.apiKey}`) {
      return send(401, errorBody('Incorrect API key provided.', 'invalid_request_error', null));
    }
    const rf = body.response_format?.type;
    if ((rf === 'json_schema' && this.opts.noJsonSchema) || (rf === 'json_object' && this.opts.noJsonObject)) {
      return send(
        400,
        errorBody(
          `response_format type "${rf}" is not supported by this server`,
          'invalid_request_error',
          'response_format',
        ),
      );
    }
    const n = this.chatRequests.filter((r) => {
      const f = r.body.response_format?.type;
      return !((f === 'json_schema' && this.opts.noJsonSchema) || (f === 'json_object' && this.opts.noJsonObject));
    }).length;
    const reply = await this.responder(rec, n - 1);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (reply.hangUp) {
      req.socket.destroy();
      return;
    }
    send(reply.status ?? 200, reply.body ?? completion(rec, reply.content ?? ''), reply.headers);
  }
}

/** The user (dynamic) message of a request. */
export const userMessage = (r: RecordedRequest): string =>
  String(r.body.messages?.find((m: { role: string }) => m.role === 'user')?.content ?? '');
export const systemMessage = (r: RecordedRequest): string =>
  String(r.body.messages?.find((m: { role: string }) => m.role === 'system')?.content ?? '');
