/** What the agent's journal (`agent.jsonl`) adds up to: token use, cost, failures, the endpoint's output mode. */
import { OUTPUT_MODES, type OutputMode } from './settings';

export interface LlmUsage {
  calls: number;
  failedCalls: number;
  promptTokens: number;
  completionTokens: number;
  /** USD, when prices were given. */
  costUsd?: number;
  rejected: number;
  fallbacks: number;
  /** The output mode of the last successful call (a resumed session starts there). */
  mode?: OutputMode;
}

export function llmUsage(journal: Record<string, unknown>[]): LlmUsage | undefined {
  const calls = journal.filter((r) => r.type === 'llm-call');
  if (!calls.length && !journal.some((r) => r.type === 'fallback')) return undefined;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const costs = calls.filter((c) => typeof c.costUsd === 'number');
  const lastOk = [...calls].reverse().find((c) => c.outcome === 'ok');
  return {
    calls: calls.length,
    failedCalls: calls.filter((c) => c.outcome !== 'ok').length,
    promptTokens: calls.reduce((a, c) => a + n(c.promptTokens), 0),
    completionTokens: calls.reduce((a, c) => a + n(c.completionTokens), 0),
    costUsd: costs.length ? costs.reduce((a, c) => a + n(c.costUsd), 0) : undefined,
    rejected: journal.filter((r) => r.type === 'rejected').length,
    fallbacks: journal.filter((r) => r.type === 'fallback').length,
    mode: (OUTPUT_MODES as readonly unknown[]).includes(lastOk?.mode) ? (lastOk!.mode as OutputMode) : undefined,
  };
}

export function describeUsage(u: LlmUsage): string {
  const plural = (k: number) => (k === 1 ? '' : 's');
  const failed = u.failedCalls ? ` (${u.failedCalls} failed or unusable)` : '';
  const tokens = `${u.promptTokens} prompt + ${u.completionTokens} completion tokens`;
  const cost = u.costUsd !== undefined ? `, $${u.costUsd.toFixed(4)}` : '';
  const rejected = u.rejected ? `; ${u.rejected} proposal${plural(u.rejected)} rejected by validation` : '';
  const fallbacks = u.fallbacks ? `; ${u.fallbacks} fallback${plural(u.fallbacks)} to the built-in strategy` : '';
  const mode = u.mode ? `; output mode ${u.mode}` : '';
  return `LLM: ${u.calls} call${plural(u.calls)}${failed}, ${tokens}${cost}${rejected}${fallbacks}${mode}`;
}
