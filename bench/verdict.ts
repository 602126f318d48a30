/**
 * Is the declared best right? Real sessions on the trained fixture (the `haqa demo` session: builtin strategy, budget
 * 6, accuracy on, confirmation on) over several seeds, then a long interleaved measurement of every configuration any
 * session measured — the reference. A declared best is "right" when no configuration of the reference beats it
 * by the comparison rule (src/core/verdict.ts), i.e. it is within noise of the optimum (bench/agent.ts's definition). For each session three declarations are scored on the same trials:
 *   before  the argmax of the trials' means (what HAQA declared before the verdict rules),
 *   rule    the verdict on the trials as first measured (the rule and its tie-break, no confirmation),
 *   after   the session's verdict (confirmation runs pooled) — what `haqa` declares now.
 * It also reports what confirmation cost in time. Writes bench/results/verdict.md.
 *
 *   npm run bench:verdict                options: --seeds N (5), --rounds N (reference rounds, 5), --out DIR
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './agent';
import { TRAINED_DEMO } from '../src/core/demoModel';
import { shortConfig } from '../src/core/format';
import { describeHardware, probeHardware } from '../src/core/hardware';
import { inspectModel } from '../src/core/model';
import { leader } from '../src/core/objective';
import { ProcessRunner } from '../src/core/process/runner';
import { locateTools, withToolInfo } from '../src/core/toolchains/llamacpp/locate';
import { LlamaCppToolchain } from '../src/core/toolchains/llamacpp/toolchain';
import type { Stat, TrialRecord } from '../src/core/types';
import { compare, statOfSamples, verdict } from '../src/core/verdict';

const CLI = path.resolve('dist/cli.js');
const OBJECTIVE = { kind: 'decode' as const };

interface SessionResult {
  seed: number;
  /** Trials as first measured (no confirmation pooled). */
  raw: TrialRecord[];
  /** The session's verdict best (confirmation pooled). */
  after: TrialRecord;
  confirmMs: number;
  confirmRuns: number;
  discarded: number;
  wallMs: number;
}

function runSession(seed: number, dir: string): SessionResult {
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [CLI, 'demo', '--strategy', 'builtin', '--seed', String(seed), '--session-dir', dir, '--json'],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
    },
  );
  const wallMs = Date.now() - t0;
  if (r.status !== 0) throw new Error(`haqa demo --seed ${seed} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const s = JSON.parse(r.stdout);
  const lines = fs
    .readFileSync(path.join(s.sessionPath, 'trials.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const raw = lines.filter(
    (l) => typeof l.index === 'number' && (l.type === 'trial' || l.type === undefined),
  ) as TrialRecord[];
  const confirms = lines.filter((l) => l.type === 'confirm');
  const after = (s.trials as TrialRecord[]).find((t) => t.index === s.verdict.best);
  if (!after) throw new Error(`haqa demo --seed ${seed} declared no best: ${s.verdict.reason}`);
  return {
    seed,
    raw,
    after,
    confirmMs: confirms.reduce((a, c) => a + c.durationMs, 0),
    confirmRuns: s.verdict.confirmations,
    discarded: lines.filter((l) => l.type === 'confirm-discard').length,
    wallMs,
  };
}

async function main() {
  const { values } = parseArgs({
    options: { seeds: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' } },
  });
  const seeds = Number(values.seeds ?? 5);
  const rounds = Number(values.rounds ?? 5);
  const out = values.out ?? 'bench/results';
  const model = path.resolve(TRAINED_DEMO.rel);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-verdict-'));
  const hw = probeHardware();
  const load0 = os.loadavg()[0];
  const t0 = Date.now();
  const sessions: SessionResult[] = [];
  try {
    for (let seed = 1; seed <= seeds; seed++) {
      sessions.push(runSession(seed, work));
      const s = sessions[sessions.length - 1];
      process.stderr.write(
        `seed ${seed}: ${s.raw.length} trials, verdict #${s.after.index}, confirmation ${(s.confirmMs / 1000).toFixed(1)} s\n`,
      );
    }
    // The reference: every configuration any session measured, interleaved (the order rotates each round), pooled.
    const tools = locateTools();
    if (!tools) throw new Error('llama.cpp tools not found: run `node dist/cli.js toolchain build`');
    const runner = new ProcessRunner({ mode: 'pipe' });
    const tc = new LlamaCppToolchain(await withToolInfo(runner, tools), hw, await inspectModel(model), {
      workload: TRAINED_DEMO.workload,
    });
    const configs = new Map<string, TrialRecord['config']>();
    for (const s of sessions)
      for (const t of s.raw) if (t.status === 'done') configs.set(tc.space.key(t.config), t.config);
    const keys = [...configs.keys()];
    if (!keys.length) throw new Error('no session measured a configuration');
    const samples = new Map<string, number[]>(keys.map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[(i + r) % keys.length];
        const o = await tc.runTrial(configs.get(k)!, { runner, logDir: work, trialIndex: 1 });
        if (o.status === 'done' && o.metrics.decode?.samples) samples.get(k)!.push(...o.metrics.decode.samples);
      }
      process.stderr.write(`reference round ${r + 1}/${rounds} done\n`);
    }
    const ref = new Map<string, Stat>(keys.map((k) => [k, statOfSamples(samples.get(k)!)]));
    const optKey = keys.reduce((a, b) => (ref.get(b)!.mean > ref.get(a)!.mean ? b : a));
    const opt = ref.get(optKey)!;
    // Right: no configuration of the reference beats it by the rule (the definition bench/agent.ts scores grids by).
    const beaten = (st: Stat) => [...ref.values()].some((o) => compare(st, o).order === -1);
    const right = (t: TrialRecord | undefined) => !!t && !beaten(ref.get(tc.space.key(t.config))!);
    const pct = (t: TrialRecord | undefined) => (t ? (100 * ref.get(tc.space.key(t.config))!.mean) / opt.mean : NaN);
    const byIndex = (ts: TrialRecord[], i?: number) => ts.find((t) => t.index === i);
    const label = (t?: TrialRecord) => (t ? `#${t.index} ${t.config.quant}` : '-');
    const kld = (t?: TrialRecord) => t?.metrics.accuracy?.kld;
    const rows = sessions.map((s) => {
      const before = leader(OBJECTIVE, s.raw);
      const ruled = byIndex(s.raw, verdict(OBJECTIVE, s.raw).best);
      return { s, before, ruled, after: s.after };
    });
    const rate = (f: (r: (typeof rows)[number]) => TrialRecord | undefined) =>
      `${rows.filter((r) => right(f(r))).length}/${rows.length}`;
    const med = (f: (r: (typeof rows)[number]) => number | undefined) =>
      median(rows.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x)));
    const refTable = keys
      .map((k) => ({ k, st: ref.get(k)!, c: configs.get(k)! }))
      .sort((a, b) => b.st.mean - a.st.mean)
      .map(
        ({ k, st, c }) =>
          `| ${shortConfig(c)} | ${st.mean.toFixed(0)} ± ${st.sd.toFixed(0)} (n ${st.n}) | ${((100 * st.mean) / opt.mean).toFixed(1)} | ${k === optKey ? 'fastest' : beaten(st) ? 'beaten beyond noise' : 'within noise'} |`,
      );
    const text = [
      `Trained fixture \`${path.basename(model)}\`, the \`haqa demo\` session (builtin strategy, budget 6, prompt ${TRAINED_DEMO.workload.promptTokens} / generation ${TRAINED_DEMO.workload.genTokens} tokens × ${TRAINED_DEMO.workload.repetitions} repetitions, accuracy on, confirmation on) with seeds 1..${seeds}; reference: every configuration any session measured, ${rounds} interleaved rounds pooled. ${describeHardware(hw).split('\n')[0]}; load average ${load0.toFixed(2)} at the start; ${((Date.now() - t0) / 60000).toFixed(1)} min in all (${new Date().toISOString().slice(0, 10)}).`,
      '',
      '"Right" = no configuration of the reference beats the declared one by the comparison rule (Welch 95 % + 1 % margin), the definition the grid scores use. before = argmax of the trials\' means; rule = the verdict on the trials as first measured; after = the session\'s verdict with confirmation pooled (what `haqa` declares).',
      '',
      '| | before (argmax) | rule, no confirmation | after (verdict, confirmed) |',
      '| --- | --- | --- | --- |',
      `| declared best within noise of the optimum | ${rate((r) => r.before)} | ${rate((r) => r.ruled)} | ${rate((r) => r.after)} |`,
      `| median reference speed of the declared best, % of optimum | ${med((r) => pct(r.before)).toFixed(1)} | ${med((r) => pct(r.ruled)).toFixed(1)} | ${med((r) => pct(r.after)).toFixed(1)} |`,
      `| median KLD of the declared best | ${med((r) => kld(r.before)).toFixed(4)} | ${med((r) => kld(r.ruled)).toFixed(4)} | ${med((r) => kld(r.after)).toFixed(4)} |`,
      '',
      `Confirmation cost: median ${(med((r) => r.s.confirmMs) / 1000).toFixed(1)} s per session (${med((r) => (100 * r.s.confirmMs) / r.s.wallMs).toFixed(0)} % of the session's wall-clock, median session ${(med((r) => r.s.wallMs) / 1000).toFixed(1)} s), median ${med((r) => r.s.confirmRuns)} runs pooled; rounds discarded for anchor drift: ${rows.reduce((a, r) => a + r.s.discarded, 0)} in ${rows.length} sessions.`,
      '',
      '| seed | before | rule | after | confirmation s | discarded rounds |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows.map(
        (r) =>
          `| ${r.s.seed} | ${label(r.before)} ${right(r.before) ? '✓' : '✗'} | ${label(r.ruled)} ${right(r.ruled) ? '✓' : '✗'} | ${label(r.after)} ${right(r.after) ? '✓' : '✗'} | ${(r.s.confirmMs / 1000).toFixed(1)} | ${r.s.discarded} |`,
      ),
      '',
      'Reference (decode t/s, pooled):',
      '',
      '| configuration | decode t/s | % of optimum | against the optimum |',
      '| --- | --- | --- | --- |',
      ...refTable,
    ].join('\n');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'verdict.md'), `${text}\n`);
    process.stdout.write(`${text}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
