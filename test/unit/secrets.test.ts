import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProcessRunner } from '../../src/core/process/runner';
import { childEnv, maskSecret, redact, registerSecret } from '../../src/core/secrets';
import { CLI, GRID, tmpDir } from '../helpers/fixtures';
import { OpenAiTestServer, errorBody, type Reply, type Responder } from '../helpers/openaiServer';

const CANARY = 'sk-canary-7f3a9c2e1b4d8a6f0e5c';

const servers: OpenAiTestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

test('redact masks a registered key as its first 3 and last 4 characters; childEnv drops it', () => {
  registerSecret(CANARY);
  assert.equal(maskSecret(CANARY), `sk-…${CANARY.slice(-4)}`);
  assert.equal(
    redact(`Bearer ${CANARY}, again ${CANARY}`),
    `Bearer ${maskSecret(CANARY)}, again ${maskSecret(CANARY)}`,
  );
  // A key with a quote, a backslash or a slash is masked where JSON or a URL spells it differently too.
  const odd = 'sk-odd"key\\with/slash+9876';
  registerSecret(odd);
  for (const text of [JSON.stringify({ error: `bad key ${odd}` }), `https://x.test/?key=${encodeURIComponent(odd)}`]) {
    assert.ok(!redact(text).includes(JSON.stringify(odd).slice(1, -1)), redact(text));
    assert.ok(!redact(text).includes(encodeURIComponent(odd)), redact(text));
    assert.ok(redact(text).includes(maskSecret(odd)), redact(text));
  }
  const env = childEnv({ PATH: '/bin', HAQA_LLM_API_KEY: 'x', OPENAI_API_KEY: 'y', OTHER: CANARY, KEEP: 'ok' });
  assert.deepEqual(env, { PATH: '/bin', KEEP: 'ok' });
});

test('a tool that prints its environment never sees the key (every child runs without it)', async () => {
  registerSecret(CANARY);
  const dir = tmpDir();
  const saved = { a: process.env.HAQA_LLM_API_KEY, b: process.env.OPENAI_API_KEY };
  process.env.HAQA_LLM_API_KEY = CANARY;
  process.env.OPENAI_API_KEY = CANARY;
  try {
    const log = path.join(dir, 'tool.log');
    const r = await new ProcessRunner({ mode: 'pipe' }).run(
      [process.execPath, '-e', 'console.log(JSON.stringify(process.env)); console.error(process.env.HAQA_LLM_API_KEY)'],
      { logFile: log, captureStderr: true },
    );
    assert.equal(r.exitCode, 0);
    assert.ok(JSON.parse(r.stdout).PATH, 'the tool printed its environment');
    for (const text of [r.stdout, r.stderr ?? '', r.outputTail, fs.readFileSync(log, 'utf8')])
      assert.ok(!text.includes(CANARY), 'the key reached a child process');
  } finally {
    if (saved.a === undefined) delete process.env.HAQA_LLM_API_KEY;
    else process.env.HAQA_LLM_API_KEY = saved.a;
    if (saved.b === undefined) delete process.env.OPENAI_API_KEY;
    else process.env.OPENAI_API_KEY = saved.b;
  }
});

/** A protocol server answering every request with `reply`, and `haqa optimize --replay … --strategy llm` against it. */
async function llmSession(reply: Reply | Responder, args: string[], key: string) {
  const s = new OpenAiTestServer(typeof reply === 'function' ? reply : () => reply);
  servers.push(s);
  await s.start();
  const dir = tmpDir();
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'optimize', '--replay', GRID, '--strategy', 'llm', '--llm-base-url', s.url, ...args],
      { env: { ...process.env, HAQA_LLM_API_KEY: key, HAQA_LLM_BASE_URL: '' }, cwd: dir },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
  return { s, dir, r };
}

for (const pad of [0, 250])
  test(`an endpoint that echoes the Authorization header in its error (after ${pad} characters): the key is in no output and no file`, async () => {
    const { s, dir, r } = await llmSession(
      (req) => ({
        status: 401,
        body: errorBody(`${'x'.repeat(pad)}Incorrect API key provided: ${String(req.headers.authorization)}`),
      }),
      ['--budget', '2', '--json'],
      CANARY,
    );
    assert.ok(s.chatRequests.length > 0, 'the endpoint was called');
    assert.equal(s.chatRequests[0].headers.authorization, `Bearer ${CANARY}`, 'the key was sent to the endpoint');
    const everything = [r.stdout, r.stderr, ...walk(path.join(dir, '.haqa')).map((f) => fs.readFileSync(f, 'utf8'))];
    if (pad === 0)
      assert.ok(
        everything.some((t) => t.includes(`Bearer ${maskSecret(CANARY)}`)),
        `the echoed error is shown, masked:\n${r.stderr}`,
      );
    // Not the key, and no piece of it either (a message cut at 300 characters must not keep the key's first half).
    const piece = CANARY.slice(0, 12);
    for (const [i, text] of everything.entries()) assert.ok(!text.includes(piece), `the key leaked (output ${i})`);
  });

test('a 200 whose body is not a chat-completions reply is retried, then the built-in strategy takes over: no failed session', async () => {
  const { s, r } = await llmSession(
    { status: 200, body: '{"id": "x", "choices": [ {"message": ' },
    ['--llm-max-retries', '1'],
    '',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /answered with something that is not a chat-completions reply/);
  assert.match(r.stderr, /built-in strategy/);
  assert.ok(s.chatRequests.length >= 2, 'retried before falling back');
});

test("the CLI's guard masks the key in bytes written to stdout/stderr (a tool's output passed through), not only in text", async () => {
  const script = [
    "const m = await import('./src/cli/output.ts');",
    '(m.guardOutput ?? m.default.guardOutput)();',
    `process.stdout.write(Buffer.from('bytes ${CANARY} end\\n'));`,
    `process.stderr.write(new Uint8Array(Buffer.from('more ${CANARY} ünï\\n')));`,
    "process.stdout.write(Buffer.from('kept ünïcode\\n'));",
  ].join('\n');
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: path.resolve(__dirname, '../..'), env: { ...process.env, HAQA_LLM_API_KEY: CANARY } },
      (e, stdout, stderr) => (e ? reject(e) : resolve({ stdout, stderr })),
    ),
  );
  assert.equal(stdout, `bytes ${maskSecret(CANARY)} end\nkept ünïcode\n`);
  assert.equal(stderr, `more ${maskSecret(CANARY)} ünï\n`);
});
