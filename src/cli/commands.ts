/** `haqa report` and `haqa toolchain build|status`. */
import { compareWithReference } from '../core/reference';
import * as path from 'node:path';
import { HaqaError } from '../core/errors';
import { paretoFront } from '../core/objective';
import { journalSummary, type SessionSummary } from '../core/session';
import { judge } from '../core/verdict';
import { SessionStore } from '../core/store';
import { lockOwner } from '../core/lock';
import { buildToolchain, defaultBackend } from '../core/toolchains/llamacpp/build';
import { locateTools, withToolInfo } from '../core/toolchains/llamacpp/locate';
import { formatDuration } from '../core/format';
import { toolchainRoot } from '../core/paths';
import { backendFlag, makeRunner, usage, type Flags } from './args';
import { log, printSummary } from './output';

export async function report(flags: Flags, target?: string): Promise<number> {
  const root = path.resolve(flags['session-dir'] ?? '.haqa');
  const id = target ?? SessionStore.list(root).pop()?.id;
  if (!id)
    throw new HaqaError(
      `no sessions under ${root}`,
      'run `haqa optimize` or `haqa demo` first, or pass --session-dir',
      'input',
    );
  const store = SessionStore.open(root, id);
  const { trials, badLines, tornBytes } = store.readTrials();
  if (badLines && !trials.length)
    throw new HaqaError(
      `${store.trialsFile} holds no readable trial (${badLines} damaged line(s))`,
      'restore it from a backup, or start a new session',
      'input',
    );
  if (badLines) log(`haqa: ${badLines} damaged line(s) in ${store.trialsFile} skipped`);
  if (tornBytes) log(`haqa: a torn last line (${tornBytes} bytes) of an interrupted write is not shown`);
  const owner = store.meta.status === 'running' ? lockOwner(store.dir) : undefined;
  // session.json says `running` both while a process runs it (it holds the lock) and after one died mid-run.
  const state = owner ? 'running' : store.meta.status === 'running' ? 'interrupted' : store.meta.status;
  const { objective } = store.meta.spec;
  const judged = judge(objective, trials);
  const pareto = paretoFront(objective, trials);
  const summary: SessionSummary = {
    sessionId: store.id,
    sessionPath: store.dir,
    strategy: store.meta.strategy,
    status: store.meta.status === 'running' ? 'stopped' : store.meta.status,
    stopReason: owner
      ? `running now (PID ${owner.pid}: ${owner.what}, since ${owner.since})`
      : (store.meta.stopReason ?? (store.meta.status === 'running' ? 'resume it with --resume' : '')),
    objective,
    trials,
    ...judged,
    pareto,
    ...journalSummary(store.readJournal()),
  };
  const reference = compareWithReference(objective, trials, judged.best, store.meta.reference);
  if (reference) summary.reference = reference;
  if (flags.json) {
    const json = {
      schema: 'haqa.report.v2',
      session: store.meta,
      state,
      owner: owner ?? null,
      trials,
      best: judged.best?.index ?? null,
      verdict: judged.verdict,
      pareto: pareto.map((t) => t.index),
      llm: summary.llm ?? null,
      reference: reference ?? null,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    printSummary(summary, undefined, state);
  }
  return 0;
}

export async function toolchainCmd(flags: Flags, sub?: string): Promise<number> {
  const runner = makeRunner(flags);
  if (sub === 'build') {
    const backend = backendFlag(flags) ?? defaultBackend();
    const t0 = Date.now();
    const m = await buildToolchain({
      backend,
      runner,
      onProgress: (s) => log(`haqa: ${s}`),
      logFile: path.join(toolchainRoot(), 'build.log'),
    });
    const took = Date.now() - t0 < 2000 ? ' (already built)' : ` after ${formatDuration(Date.now() - t0)}`;
    log(`haqa: llama.cpp ${m.commit.slice(0, 7)} (${m.backend}) ready in ${m.binDir}${took}`);
    if (flags.json) process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
    return 0;
  }
  if (sub === 'status') {
    const found = locateTools({ binDir: flags['llamacpp-bin'], backend: backendFlag(flags) });
    if (!found) {
      if (flags.json) process.stdout.write(`${JSON.stringify({ found: false })}\n`);
      else
        log(
          'llama.cpp tools: not found (explicit folder, $HAQA_LLAMACPP_BIN, PATH, cache)\n' +
            '  fix: run `haqa toolchain build`',
        );
      return 1;
    }
    const t = await withToolInfo(runner, found);
    const out = {
      found: true,
      source: t.source,
      binDir: t.binDir,
      commit: t.commit,
      backend: t.backend ?? 'unknown',
      devices: t.devices ?? null,
      tools: {
        quantize: t.quantize,
        bench: t.bench,
        perplexity: t.perplexity,
        imatrix: t.imatrix,
        server: t.server,
        fitParams: t.fitParams,
        ggufSplit: t.ggufSplit,
      },
    };
    if (flags.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    else {
      const tools = Object.entries(out.tools)
        .map(([k, v]) => `  ${k.padEnd(10)} ${v ?? '(missing)'}`)
        .join('\n');
      const devices = !out.devices
        ? ['  (could not be listed: llama-bench --list-devices failed)']
        : out.devices.length
          ? out.devices.map((d) => `  ${d.name.padEnd(10)} ${d.description}, ${d.totalMiB} MiB (${d.freeMiB} MiB free)`)
          : ['  (none: the CPU only)'];
      process.stdout.write(
        `llama.cpp tools (${out.source}): ${out.binDir}\n` +
          `version ${out.commit ?? 'unknown'}, backend ${out.backend}\n${tools}\ndevices\n${devices.join('\n')}\n`,
      );
    }
    return 0;
  }
  throw usage('toolchain needs a subcommand: build or status');
}
