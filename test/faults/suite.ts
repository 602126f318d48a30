/**
 * The fault suite (`npm run test:faults`, part of `npm test`): faults caused for real against the real `haqa` and the
 * real llama.cpp tools — kill -9 of haqa and of its child at random moments, two writers on one session, a key canary
 * against an echoing endpoint and an environment-printing tool, a full disk, hanging / garbage / giant / silent tools,
 * damaged session files, absurd replay rows, hostile inputs. Every scenario checks its own outcome; the suite ends
 * with a tally and prints it; with --write it also records it in RELIABILITY.md (date, machine). Exit 1 on any
 * failed check.
 *
 * It kills llama.cpp tools of the toolchain it uses by their path: do not run it beside other HAQA sessions on the same
 * build (npm test runs it alone).
 *
 *   npm run test:faults            options: --kills N (haqa kill -9s, default 16), --child-kills N (default 10), --write
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { describeHardware, probeHardware } from '../../src/core/hardware';
import { locateTools } from '../../src/core/toolchains/llamacpp/locate';
import { CLI, FIXTURES, GRID, ROOT, gridRows, tmpDir, withFakeBench } from '../helpers/fixtures';
import { OpenAiTestServer, errorBody } from '../helpers/openaiServer';

const MODEL = path.join(FIXTURES, 'trained', 'haqa-tiny-pystdlib-f16.gguf');
const FAST = ['--prompt-tokens', '32', '--gen-tokens', '16', '--repetitions', '2', '--accuracy', 'off'];
const CANARY = 'sk-faultcanary-5d1e9b7c3a2f4e6d';

interface Tally {
  faults: number;
  survived: number;
  lost: number;
  duplicated: number;
  hostile: number;
  executed: number;
  canaryFiles: number;
}
const tally: Tally = { faults: 0, survived: 0, lost: 0, duplicated: 0, hostile: 0, executed: 0, canaryFiles: 0 };
const rows: { scenario: string; faults: number; result: string }[] = [];
let failed = 0;

async function scenario(name: string, run: () => Promise<{ faults: number; note: string }>): Promise<void> {
  const t0 = Date.now();
  try {
    const { faults, note } = await run();
    tally.faults += faults;
    tally.survived += faults;
    rows.push({ scenario: name, faults, result: `ok: ${note} (${((Date.now() - t0) / 1000).toFixed(0)} s)` });
    process.stderr.write(`✔ ${name}: ${note}\n`);
  } catch (e) {
    failed++;
    const why = e instanceof Error ? e.message.split('\n').slice(0, 6).join(' ') : String(e);
    rows.push({ scenario: name, faults: 0, result: `FAILED: ${why}` });
    process.stderr.write(`✖ ${name}: ${e instanceof Error ? e.stack : String(e)}\n`);
  }
}

const haqa = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 600_000, env });

/** The same, without blocking this process (a test server in it must answer haqa). */
const haqaAsync = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (code) => resolve({ status: Number(code), stdout, stderr }));
  });

/** No stack trace in what a user sees. */
const noTrace = (text: string, what: string) => assert.doesNotMatch(text, /\n\s+at \S+ \(/, `${what}: a stack trace`);

interface TrialLine {
  type?: string;
  index: number;
  key: string;
  status: string;
}
const trialLines = (dir: string): TrialLine[] =>
  fs
    .readFileSync(path.join(dir, 'trials.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as TrialLine];
      } catch {
        return [];
      }
    })
    .filter((r) => r.type === 'trial');

/** Indices written twice, and configurations measured twice among counted trials. */
function duplicates(lines: TrialLine[]): number {
  const idx = new Set<number>();
  let dup = 0;
  for (const l of lines) {
    if (idx.has(l.index)) dup++;
    idx.add(l.index);
  }
  const counted = lines.filter((l) => l.status !== 'cancelled' && l.status !== 'skipped');
  return dup + counted.length - new Set(counted.map((l) => l.key)).size;
}

/** Starts haqa; kills it with SIGKILL `delayMs` after its stderr first shows `when` (an event, then a random moment). */
function killDuring(args: string[], when: RegExp, delayMs: number): Promise<{ killed: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let armed = false;
    c.stderr.on('data', (d) => {
      err += d;
      if (!armed && when.test(err)) {
        armed = true;
        setTimeout(() => c.kill('SIGKILL'), delayMs);
      }
    });
    c.on('close', (_code, signal) => resolve({ killed: signal === 'SIGKILL', stderr: err }));
  });
}

/** A llama-bench JSONL row claiming 1e308 t/s for the decode test (what a broken build might print). */
function absurdRow(): string {
  const [row] = gridRows(1);
  return JSON.stringify({ ...row, n_prompt: 0, n_gen: 16, avg_ts: 1e308, stddev_ts: 0, samples_ts: [1e308] });
}

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));

async function main() {
  const { values } = parseArgs({
    options: { kills: { type: 'string' }, 'child-kills': { type: 'string' }, write: { type: 'boolean' } },
  });
  const kills = Number(values.kills ?? 16);
  const childKills = Number(values['child-kills'] ?? 10);
  const tools = locateTools();
  assert.ok(tools, 'llama.cpp tools not found: run `node dist/cli.js toolchain build` first');
  const t0 = Date.now();

  await scenario(`kill -9 of haqa at random moments (${kills}×), each followed by a resume`, async () => {
    const dir = tmpDir('haqa-faults-');
    const budget = 10;
    // The whole budget: the scenario counts it (stopping early would end the session before the kills do).
    const base = [
      '--session-dir',
      dir,
      '--cache-dir',
      path.join(dir, 'cache'),
      '--confirm',
      'off',
      '--stop-early',
      'off',
      ...FAST,
    ];
    let id = '';
    let killed = 0;
    let before = 0;
    for (let k = 0; k < kills; k++) {
      const args = id
        ? ['optimize', '--resume', id, '--session-dir', dir, '--budget', String(budget)]
        : ['optimize', '--model', MODEL, '--budget', String(budget), ...base];
      // Killed while a trial runs (quantize or bench), or between trials, at a random moment after a trial began.
      const r = await killDuring(args, /\[\d+\/\d+\] trial #\d+/, rand(0, 1500));
      if (r.killed) killed++;
      if (!id) id = fs.readdirSync(path.join(dir, 'sessions'))[0];
      const lines = trialLines(path.join(dir, 'sessions', id));
      assert.ok(lines.length >= before, `trials lost: ${before} → ${lines.length}`);
      tally.lost += Math.max(0, before - lines.length);
      before = lines.length;
    }
    const end = haqa(['optimize', '--resume', id, '--session-dir', dir, '--budget', String(budget), '--json']);
    assert.equal(end.status, 0, end.stderr);
    const sdir = path.join(dir, 'sessions', id);
    const lines = trialLines(sdir);
    const dup = duplicates(lines);
    tally.duplicated += dup;
    assert.equal(dup, 0, 'a trial index or a measured configuration appears twice');
    const counted = lines.filter((l) => l.status !== 'cancelled' && l.status !== 'skipped').length;
    assert.equal(counted, budget, `the budget: ${counted} counted trials`);
    assert.ok(lines.length >= before, 'trials lost at the end');
    // What the kills left behind (temp folders, .part files of dead PIDs) was swept by the runs after them.
    const parts = fs
      .readdirSync(path.join(dir, 'cache', 'artifacts'), { recursive: true })
      .filter((f) => /\.part-\d+/.test(String(f)));
    assert.deepEqual(parts, [], 'partial artifacts of killed runs are left');
    return { faults: killed, note: `${killed} kills landed; ${counted} trials counted, 0 lost, 0 duplicated` };
  });

  await scenario(`kill -9 of haqa's child tool at random moments (${childKills}×)`, async () => {
    const dir = tmpDir('haqa-faults-');
    const c = spawn(
      process.execPath,
      [
        CLI,
        'optimize',
        '--model',
        MODEL,
        '--budget',
        String(childKills + 2),
        '--confirm',
        'off',
        '--session-dir',
        dir,
      ].concat(['--cache-dir', path.join(dir, 'cache'), ...FAST, '--gen-tokens', '256', '--json']),
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let hits = 0;
    c.stdout.on('data', (d) => (out += d));
    // On each trial start, poll for its tool (quantize or bench: the process whose command line starts with the tool's
    // path, not the exec wrapper that names it in its own) and kill it at a random moment while it runs.
    c.stderr.on('data', (d) => {
      err += d;
      const started = (err.match(/\[\d+\/\d+\] trial #\d+/g) ?? []).length;
      if (started > hits && hits < childKills) {
        hits++;
        let tries = 0;
        const hunt = () => {
          const found = spawnSync('pgrep', ['-f', `^${tools.binDir}/llama-(quantize|bench) `], { encoding: 'utf8' });
          const pids = found.stdout.split('\n').filter(Boolean);
          if (pids.length) setTimeout(() => pids.forEach((pid) => spawnSync('kill', ['-9', pid])), rand(0, 150));
          else if (++tries < 40) setTimeout(hunt, 25);
        };
        hunt();
      }
    });
    const code = await new Promise((r) => c.on('close', r));
    assert.equal(typeof code, 'number', err);
    const s = JSON.parse(out);
    const killedTrials = s.trials.filter((t: { cause?: string }) => /SIGKILL|killed/.test(t.cause ?? ''));
    assert.ok(killedTrials.length >= 1, `no tool was caught running: ${err.slice(-500)}`);
    for (const t of killedTrials) assert.doesNotMatch(t.cause, /most likely out of memory/, 'blamed on memory');
    assert.equal(s.status, 'completed', s.stopReason);
    assert.equal(duplicates(trialLines(s.sessionPath)), 0);
    return {
      faults: killedTrials.length,
      note: `${killedTrials.length} tools killed mid-run, each recorded with the cause (not "out of memory"); session completed`,
    };
  });

  await scenario('two writers on one session: `haqa optimize --resume` twice at once', async () => {
    const dir = tmpDir('haqa-faults-');
    const first = haqa(['optimize', '--replay', GRID, '--budget', '2', '--session-dir', dir, '--json']);
    assert.equal(first.status, 0, first.stderr);
    const { sessionId, sessionPath } = JSON.parse(first.stdout);
    const run = () =>
      new Promise<{ code: number; err: string }>((resolve) => {
        const c = spawn(
          process.execPath,
          [CLI, 'optimize', '--resume', sessionId, '--budget', '200'].concat(['--session-dir', dir]),
        );
        let err = '';
        c.stderr.on('data', (d) => (err += d));
        c.on('close', (code) => resolve({ code: Number(code), err }));
      });
    const [a, b] = await Promise.all([run(), run()]);
    const refused = [a, b].filter((x) => /is in use by PID \d+/.test(x.err));
    const lines = trialLines(sessionPath);
    const dup = duplicates(lines);
    tally.duplicated += dup;
    assert.equal(dup, 0, 'both wrote');
    assert.ok(lines.filter((l) => l.status !== 'cancelled').length <= 200, 'more trials than the budget');
    return {
      faults: 1,
      note: `${refused.length} of 2 refused with the owner's PID (the other ran to the budget); 0 duplicated`,
    };
  });

  await scenario(
    'the key canary: an endpoint echoing the Authorization header, a tool printing its environment',
    async () => {
      const echo = new OpenAiTestServer((req) => ({
        status: 401,
        body: errorBody(`${'x'.repeat(270)}bad key: ${String(req.headers.authorization)}`),
      }));
      await echo.start();
      const dir = tmpDir('haqa-faults-');
      const envBin = withFakeBench(tools, 'env; echo "$HAQA_LLM_API_KEY" >&2; exit 1');
      const env = { ...process.env, HAQA_LLM_API_KEY: CANARY, HAQA_LLM_BASE_URL: '' };
      const outputs: string[] = [];
      try {
        for (const args of [
          ['optimize', '--replay', GRID, '--strategy', 'llm', '--llm-base-url', echo.url, '--budget', '2', '--json'],
          [
            'optimize',
            '--model',
            MODEL,
            '--llamacpp-bin',
            envBin,
            '--budget',
            '1',
            '--cache-dir',
            path.join(dir, 'c'),
          ].concat(FAST),
        ]) {
          const r = await haqaAsync([...args, '--session-dir', dir], env);
          outputs.push(r.stdout, r.stderr);
        }
      } finally {
        await echo.stop();
      }
      const files = (fs.readdirSync(dir, { recursive: true }) as string[])
        .map((f) => path.join(dir, f))
        .filter((f) => fs.statSync(f).isFile());
      const piece = CANARY.slice(0, 12);
      const holding = files.filter((f) => fs.readFileSync(f, 'utf8').includes(piece));
      tally.canaryFiles += holding.length + outputs.filter((o) => o.includes(piece)).length;
      assert.deepEqual(holding, [], 'files holding the canary');
      assert.ok(!outputs.some((o) => o.includes(piece)), 'output holding the canary');
      return { faults: 2, note: `${files.length} files and 4 outputs scanned: none holds the key or a piece of it` };
    },
  );

  await scenario('a full disk under the session folder', async () => {
    const dir = tmpDir('haqa-faults-');
    const mounted =
      process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=40k', 'tmpfs', dir]).status === 0;
    // A tmpfs needs root; without it, test/unit/records.test.ts causes ENOSPC through /dev/full instead.
    if (!mounted) return { faults: 0, note: 'not root: no tmpfs here (the unit suite causes ENOSPC via /dev/full)' };
    try {
      const r = haqa(['optimize', '--replay', GRID, '--budget', '40', '--session-dir', dir, '--json']);
      assert.equal(r.status, 1, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.schema, 'haqa.error.v1');
      assert.match(doc.error, /no space left on the disk holding .* \(ENOSPC\)/);
      noTrace(r.stderr, 'full disk');
      const sdir = path.join(dir, 'sessions', fs.readdirSync(path.join(dir, 'sessions'))[0]);
      assert.deepEqual(
        fs.readdirSync(sdir).filter((f) => f.includes('.tmp-')),
        [],
        'a stray temp file',
      );
      const text = fs.readFileSync(path.join(sdir, 'trials.jsonl'), 'utf8');
      assert.ok(text === '' || text.endsWith('\n'), 'a torn last line');
      return { faults: 1, note: '40 KB tmpfs: ENOSPC named with its fix, no torn line, no temp file' };
    } finally {
      spawnSync('umount', [dir]);
    }
  });

  await scenario(
    'tools that hang, print garbage, print without end, print nothing, or print impossible figures',
    async () => {
      // Each with the step limit it needs: the hang's is short; the others end on their own, and a slow machine must
      // not turn their cause into a time-out (the giant's 256 MiB took longer than 15 s on a loaded CI machine).
      const fakes: [string, string, RegExp, string][] = [
        ['hang', 'exec sleep 3600', /timed out after \d+ s: a hang/, '0.25'],
        ['garbage', 'head -c 20000 /dev/urandom; exit 0', /llama-bench/, '5'],
        [
          'giant',
          `exec "${process.execPath}" -e "const b=Buffer.alloc(1<<20,97);for(;;)require('fs').writeSync(1,b)"`,
          /more than 256 MiB of output/,
          '5',
        ],
        ['silent', 'exit 0', /llama-bench/, '5'],
        [
          'absurd',
          `echo '${absurdRow()}'; exit 0`,
          /printed figures no measurement can produce \(tg16: mean 1e\+308/,
          '5',
        ],
      ];
      for (const [name, body, cause, stepTimeout] of fakes) {
        const bin = withFakeBench(tools, body);
        const dir = tmpDir('haqa-faults-');
        const r = haqa(
          ['optimize', '--model', MODEL, '--llamacpp-bin', bin, '--budget', '1', '--step-timeout', stepTimeout].concat([
            '--session-dir',
            dir,
            '--json',
            '--confirm',
            'off',
            ...FAST,
          ]),
        );
        const s = JSON.parse(r.stdout);
        assert.equal(s.trials[0].status, 'failed', `${name}: ${s.trials[0].status}`);
        assert.match(s.trials[0].cause, cause, `${name}: ${s.trials[0].cause}`);
        assert.notEqual(s.status, 'running');
        noTrace(r.stderr, name);
      }
      return { faults: fakes.length, note: 'each trial failed with its cause; each session ended' };
    },
  );

  await scenario('damaged session files and absurd replay rows', async () => {
    const dir = tmpDir('haqa-faults-');
    const first = haqa(['optimize', '--replay', GRID, '--budget', '3', '--session-dir', dir, '--json']);
    const { sessionId, sessionPath } = JSON.parse(first.stdout);
    const tj = path.join(sessionPath, 'trials.jsonl');
    const sj = path.join(sessionPath, 'session.json');
    const good = { t: fs.readFileSync(tj, 'utf8'), s: fs.readFileSync(sj, 'utf8') };
    const lines = good.t
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const damage: [string, () => void][] = [
      [
        '"metrics": null',
        () => fs.writeFileSync(tj, lines.map((l) => JSON.stringify({ ...l, metrics: null })).join('\n') + '\n'),
      ],
      [
        'a hand-edited mean',
        () =>
          fs.writeFileSync(
            tj,
            lines
              .map((l) =>
                JSON.stringify(
                  l.metrics?.decode
                    ? { ...l, metrics: { ...l.metrics, decode: { ...l.metrics.decode, mean: 1e7 } } }
                    : l,
                ),
              )
              .join('\n') + '\n',
          ),
      ],
      [
        'random bytes',
        () => fs.writeFileSync(tj, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919 + 13) % 256))),
      ],
      ['session.json {}', () => fs.writeFileSync(sj, '{}')],
      ['session.json null', () => fs.writeFileSync(sj, 'null')],
      ['a torn last line', () => fs.writeFileSync(tj, good.t + '{"type":"trial","ind')],
    ];
    for (const [what, damageIt] of damage) {
      fs.writeFileSync(tj, good.t);
      fs.writeFileSync(sj, good.s);
      damageIt();
      const r = haqa(['report', sessionId, '--session-dir', dir, '--json']);
      noTrace(r.stderr, what);
      const doc = JSON.parse(r.stdout);
      if (doc.schema === 'haqa.report.v2')
        for (const t of doc.trials)
          if (t.index === doc.best) assert.ok(t.metrics.decode.mean < 1e6, `${what}: a damaged trial is best`);
    }
    // A logs folder that cannot be made (a file stands there): the resume stops at once with the cause and the fix,
    // the trial it began kept as cancelled (run again by the next resume), not failed as a configuration.
    fs.writeFileSync(tj, good.t);
    fs.writeFileSync(sj, good.s);
    fs.rmSync(path.join(sessionPath, 'logs'), { recursive: true, force: true });
    fs.writeFileSync(path.join(sessionPath, 'logs'), 'not a folder');
    const resumed = haqa(['optimize', '--resume', sessionId, '--session-dir', dir, '--budget', '6', '--json']);
    noTrace(resumed.stderr, 'logs is a file');
    const stopped = JSON.parse(resumed.stdout);
    assert.equal(stopped.status, 'failed');
    assert.match(stopped.stopReason, /logs: a file stands where a folder is needed/);
    assert.deepEqual(
      stopped.trials.filter((t: { status: string }) => t.status === 'failed'),
      [],
      'a trial was failed for the folder',
    );
    fs.rmSync(path.join(sessionPath, 'logs'));
    const rows = gridRows(30);
    const absurd = path.join(dir, 'absurd.jsonl');
    fs.writeFileSync(
      absurd,
      rows
        .map((r, i) => JSON.stringify(i === 0 ? { ...r, avg_ts: 1e308 } : i === 1 ? { ...r, stddev_ts: -1 } : r))
        .join('\n'),
    );
    const r = haqa(['optimize', '--replay', absurd, '--budget', '30', '--session-dir', dir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout).best.metrics.decode.mean < 1e5, 'an absurd row is best');
    return {
      faults: damage.length + 3,
      note: 'each reported with its cause or read around (a logs folder that is a file stops the resume); no stack trace; never best',
    };
  });

  await scenario('hostile inputs: shell strings, prototype keys, absurd numbers', async () => {
    const marker = path.join(os.tmpdir(), `haqa-pwned-${process.pid}`);
    const dir = tmpDir('haqa-faults-');
    const inputs: string[][] = [
      ['optimize', '--model', `$(touch ${marker})`],
      ['optimize', '--model', `x.gguf; touch ${marker}`],
      ['optimize', '--replay', GRID, '--strategy', `random;touch ${marker}`],
      ['optimize', '--replay', GRID, '--budget', '1.5'],
      ['optimize', '--replay', GRID, '--gen-tokens', '0'],
      ['optimize', '--replay', GRID, '--prompt-tokens', '999999999999'],
      ['optimize', '--replay', GRID, '--model', MODEL],
      ['optimize', '--replay', GRID, '--max-kld', '1e999'],
      ['optimize', '--replay', GRID, '--objective', '__proto__'],
      ['optimize', '--model', MODEL, '--eval-text', dir],
      ['report', '__proto__'],
      ['--json'],
    ];
    for (const args of inputs) {
      const r = haqa([...args, '--session-dir', dir]);
      tally.hostile++;
      assert.notEqual(r.status, 0, `${args.join(' ')} was accepted`);
      noTrace(r.stderr, args.join(' '));
      assert.match(r.stderr, /fix: /, `${args.join(' ')}: no fix`);
    }
    tally.executed += fs.existsSync(marker) ? 1 : 0;
    assert.ok(!fs.existsSync(marker), 'a shell string was executed');
    return { faults: inputs.length, note: `${inputs.length} refused with a fix, none executed` };
  });

  const machine = describeHardware(probeHardware()).split('\n')[0].replace(/\s+/g, ' ');
  const date = new Date().toISOString().slice(0, 10);
  const table = [
    '| faults caused | survived | trials lost | trials duplicated | hostile inputs tried | executed | files holding the canary |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${tally.faults} | ${tally.survived} | ${tally.lost} | ${tally.duplicated} | ${tally.hostile} | ${tally.executed} | ${tally.canaryFiles} |`,
  ].join('\n');
  const detail = [
    '| scenario | faults | result |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| ${r.scenario} | ${r.faults} | ${r.result} |`),
  ].join('\n');
  process.stdout.write(`\n${table}\n\n${detail}\n`);
  const doc = [
    '# HAQA reliability',
    '',
    'Written by `npm run test:faults` (`test/faults/suite.ts`; part of `npm test`): every fault below is caused for real',
    "against the real `haqa` and llama.cpp's tools, and each scenario checks its own outcome.",
    '',
    `Last run: ${date}, ${machine}, ${((Date.now() - t0) / 60000).toFixed(1)} min${failed ? `, **${failed} scenario(s) FAILED**` : ''}.`,
    '',
    table,
    '',
    detail,
    '',
  ].join('\n');
  if (values.write) fs.writeFileSync(path.join(ROOT, 'RELIABILITY.md'), doc);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
