/** What the haqa command prints: progress lines per session event, the results table, the JSON summary. */
import { describeReference } from '../core/reference';
import { projectedBytes } from '../core/toolchains/llamacpp/fit';
import { type SessionEvent, type SessionSummary } from '../core/session';
import { type Prepared } from '../core/prepare';
import { describeUsage } from '../core/agent/journal';
import { accuracyText, formatDuration, shortConfig, stat, mib, trialsTable } from '../core/format';
import { shellQuoteForDisplay } from '../core/process/runner';
import type { TrialMetrics } from '../core/types';
import { redact } from '../core/secrets';
import { apiKeyFromEnv } from '../core/agent/settings';

export const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * Every string the CLI prints goes through the key redaction (secrets.ts): an endpoint's error that echoes the
 * Authorization header, a tool's output — nothing shows the key. Installed once by the `haqa` binary.
 */
export function guardOutput(): void {
  apiKeyFromEnv(); // registers the environment's key, whatever the command (a report prints old session files)
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string') return write(redact(chunk), ...rest);
      // Bytes (a tool's output passed through) are read as text and masked when they hold a key; else kept as they are.
      if (chunk instanceof Uint8Array) {
        const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
        const masked = redact(text);
        if (masked !== text) return write(masked, ...rest.filter((r) => typeof r === 'function'));
      }
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
}

export function printEvent(e: SessionEvent): void {
  switch (e.type) {
    case 'info':
      log(`haqa: ${e.message}`);
      break;
    case 'rejected':
      log(`haqa: rejected proposal ${JSON.stringify(e.config)?.slice(0, 300)}: ${e.reasons.join('; ')}`);
      break;
    case 'agent': {
      const a = e.event;
      if (a.type === 'llm-call') {
        const c = a.call;
        const round = c.round ? `, repair round ${c.round}` : '';
        const tokens = c.promptTokens !== undefined ? `, ${c.promptTokens}+${c.completionTokens ?? 0} tokens` : '';
        const cost = c.costUsd !== undefined ? `, $${c.costUsd.toFixed(4)}` : '';
        const seconds = `${(c.ms / 1000).toFixed(1)} s`;
        const valid = c.valid !== undefined ? `, ${c.valid} valid / ${c.rejected ?? 0} rejected` : '';
        const error = c.error ? `: ${c.error}` : '';
        log(`haqa: LLM call (${c.mode}${round}): ${c.outcome}${tokens}${cost}, ${seconds}${valid}${error}`);
      } else if (a.type === 'explanation') log(`haqa: agent on trial #${a.trial}: ${a.why}`);
      else if (a.type === 'fallback') {
        const scope = a.permanent ? 'for the rest of this session' : 'this round';
        log(`haqa: LLM agent failed: ${a.cause}\n      → the built-in strategy proposes ${scope}`);
      } else if (a.type === 'stop') log(`haqa: the agent decided to stop: ${a.reason}`);
      break;
    }
    case 'trial-start': {
      const source = e.source ? ` (${e.source})` : '';
      const why = e.rationale ? `\n        why: ${e.rationale}` : '';
      const expect = e.expectedEffect ? `\n        expect: ${e.expectedEffect}` : '';
      const surprise = e.counterintuitive ? `\n        counterintuitive: ${e.counterintuitive}` : '';
      log(
        `[${e.counted + 1}/${e.budget}] trial #${e.index} ${shortConfig(e.config)}${source}${why}${expect}${surprise}`,
      );
      break;
    }
    case 'progress':
      break;
    case 'trial-end': {
      const t = e.trial;
      const m = t.status === 'done' || t.status === 'infeasible' ? metricsText(t.metrics) : (t.cause ?? '');
      const steps = (t.steps ?? [])
        .map(
          (st) =>
            `${st.name} ${st.cached ? 'cached' : `${st.seconds.toFixed(1)} s${st.note?.startsWith('modeled') ? ' (modeled)' : ''}`}`,
        )
        .join(', ');
      const cause = t.status === 'infeasible' ? ` (${t.cause})` : '';
      const timing = `[${formatDuration(t.durationMs)}${steps ? `: ${steps}` : ''}]`;
      const eta = e.etaMs !== undefined && e.counted < e.budget ? `  ETA ${formatDuration(e.etaMs)}` : '';
      log(`        ${t.status}: ${m}${cause} ${timing}${eta}`);
      for (const f of (t.findings ?? []).slice(0, 1))
        log(`        counterintuitive, measured: ${f.evidence}\n          likely why: ${f.explanation}`);
      break;
    }
    case 'end':
      break;
  }
}

/** "decode … t/s, prefill … t/s, … MiB", then the accuracy when it was measured. */
function metricsText(m: TrialMetrics): string {
  const accuracy = m.accuracy ? `, ${accuracyText(m.accuracy)}` : '';
  const z = m.atDepth0;
  const zero = z ? ` (at depth 0: decode ${stat(z.decode)}, prefill ${stat(z.prefill)})` : '';
  const p = m.projected;
  const where = p
    ? [...p.devices.map((d) => `${d.name} ${mib(projectedBytes(d))}`), `host ${mib(projectedBytes(p.host))}`]
    : [];
  const proj = p ? `, projected ${where.join(' + ')} MiB at context ${p.context}` : '';
  return `decode ${stat(m.decode)} t/s, prefill ${stat(m.prefill)} t/s${zero}, ${mib(m.fileSizeBytes)} MiB${proj}${accuracy}`;
}

export function jsonSummary(s: SessionSummary, p: Prepared, server?: string[]) {
  const pick = (t?: SessionSummary['best']) => (t ? { index: t.index, config: t.config, metrics: t.metrics } : null);
  return {
    schema: 'haqa.optimize.v1',
    sessionId: s.sessionId,
    sessionPath: s.sessionPath,
    status: s.status,
    stopReason: s.stopReason,
    strategy: s.strategy,
    objective: s.objective,
    workload: p.workload,
    // The machine the trials ran on (a replay's: the recording's, from its rows).
    hardware: p.hardware,
    toolchain: p.toolchain.info(),
    model: {
      name: p.model.name,
      path: p.model.path,
      fileType: p.model.fileType,
      sizeBytes: p.model.sizeBytes,
      parameterCount: p.model.parameterCount,
    },
    trials: s.trials,
    best: pick(s.best),
    verdict: s.verdict,
    pareto: s.pareto.map((t) => t.index),
    llm: s.llm ?? null,
    reference: s.reference ?? null,
    serverCommand: server ?? null,
  };
}

/** `state`: what `haqa report` saw of a session another process may be running ('running', 'interrupted'). */
export function printSummary(s: SessionSummary, server?: string[], state: string = s.status): void {
  const out: string[] = ['', trialsTable(s.objective, s.trials, s.best, s.pareto, s.verdict.tied), ''];
  const fallback = s.strategy.requested !== s.strategy.used ? ` → ${s.strategy.used}` : '';
  out.push(`session ${s.sessionId}: ${state} (${s.stopReason}); strategy ${s.strategy.requested}${fallback}`);
  const kl = s.trials.some((t) => t.metrics.accuracy) ? ' × KL divergence' : '';
  out.push(
    `★ best (the verdict), ≈ within noise of it (tied), P Pareto front (${s.objective.kind} speed × file size${kl})`,
  );
  const surprises = s.trials
    .flatMap((t) => (t.findings ?? []).map((f) => ({ t, f })))
    .sort((a, b) => Math.abs(b.f.change) - Math.abs(a.f.change))
    .slice(0, 5);
  if (surprises.length) {
    out.push('counterintuitive, measured (beyond noise):');
    for (const { t, f } of surprises)
      out.push(
        `  #${t.index}: ${f.evidence}`,
        `      why: ${s.explanations?.[t.index] ? `${s.explanations[t.index]} (agent)` : f.explanation}`,
      );
  }
  if (s.llm) out.push(describeUsage(s.llm));
  if (s.best) {
    const confirmed = s.verdict.confirmations ? `; ${s.verdict.confirmations} confirmation run(s) pooled` : '';
    out.push(`verdict: ${s.verdict.reason} (${s.verdict.method}${confirmed})`);
    out.push(`best: trial #${s.best.index} ${shortConfig(s.best.config)}: ${metricsText(s.best.metrics)}`);
    if (s.reference) out.push(`against llama.cpp: ${describeReference(s.reference)}`);
    if (server) out.push('serve it with:', `  ${server.map(shellQuoteForDisplay).join(' ')}`);
  } else {
    out.push('no feasible trial: nothing to recommend (see the causes above; logs in the session folder)');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

/** `--show-prompt`: the exact next request, printed and not sent; no session is created or changed. */
