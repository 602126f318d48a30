/**
 * The LLM agent as a Strategy: prompt → call → parse → validate → repair (bounded) → proposals; and the
 * wrapper that hands over to the built-in strategy when the LLM is not answering or keeps failing, and says so.
 */
import { BuiltinStrategy } from '../strategies/heuristic';
import {
  measuredKeys,
  type LlmCallRecord,
  type Proposal,
  type Strategy,
  type StrategyContext,
} from '../strategies/strategy';
import { leader } from '../objective';
import { countsTowardBudget, type TrialRecord } from '../types';
import { LlmClient, LlmError, type ChatMessage, type ChatRequest } from './client';
import { buildRequest } from './prompt';
import { parseReply } from './reply';
import { DEFAULT_LLM, OUTPUT_MODES, type LlmSettings, type OutputMode } from './settings';

/** Longest earlier reply sent back in a repair round. */
const MAX_ECHO = 4000;

export class LlmStrategy implements Strategy {
  readonly name = 'llm';
  stopReason?: string;
  /** The output mode this endpoint accepts (steps down json_schema → json_object → tool → text on refusal). */
  mode: OutputMode;
  private readonly client: LlmClient;
  private readonly rejections: string[] = [];
  private readonly explained = new Set<number>();

  constructor(
    readonly settings: LlmSettings,
    apiKey: string | undefined,
  ) {
    this.client = new LlmClient(settings, apiKey);
    this.mode = settings.mode ?? 'json_schema';
  }

  get url(): string {
    return this.client.url;
  }

  /** Proposals to ask for now: the per-call maximum, never more than the budget left. */
  private k(ctx: StrategyContext, history: TrialRecord[]): number {
    const left = ctx.budget - history.filter(countsTowardBudget).length;
    return Math.max(1, Math.min(this.settings.proposalsPerCall, left));
  }

  /** The exact next request (what `--show-prompt` prints), without sending it. */
  nextRequest(ctx: StrategyContext, history: TrialRecord[]): ChatRequest {
    return buildRequest(ctx, history, this.settings, this.mode, {
      k: this.k(ctx, history),
      recentRejections: this.rejections,
      explained: this.explained,
    });
  }

  async propose(ctx: StrategyContext, history: TrialRecord[]): Promise<Proposal[]> {
    this.stopReason = undefined;
    const emit = ctx.onEvent ?? (() => {});
    const k = this.k(ctx, history);
    const extra: ChatMessage[] = [];
    let round = 0;
    for (;;) {
      const req = buildRequest(
        ctx,
        history,
        this.settings,
        this.mode,
        { k, recentRejections: this.rejections, explained: this.explained },
        extra,
      );
      const t0 = Date.now();
      const record = (r: Partial<LlmCallRecord> & Pick<LlmCallRecord, 'outcome'>) =>
        emit({
          type: 'llm-call',
          call: {
            at: new Date(t0).toISOString(),
            model: this.settings.model,
            mode: this.mode,
            round,
            ms: Date.now() - t0,
            attempts: 1,
            ...r,
          },
        });
      let result;
      try {
        result = await this.client.chat(req, this.mode, {
          signal: ctx.signal,
          onRetry: (why, wait) =>
            emit({ type: 'info', message: `LLM: ${why}; retrying in ${(wait / 1000).toFixed(1)} s` }),
        });
      } catch (e) {
        const err = e instanceof LlmError ? e : new LlmError('network', String(e), 'check the endpoint');
        record({ outcome: 'error', attempts: err.attempts, error: err.message });
        const next = OUTPUT_MODES[OUTPUT_MODES.indexOf(this.mode) + 1];
        if (err.kind === 'bad-request' && next) {
          emit({
            type: 'info',
            message: `LLM endpoint refused response mode ${this.mode} (${err.message}); trying ${next}`,
          });
          this.mode = next;
          continue;
        }
        throw err;
      }
      const cost = this.cost(result.promptTokens, result.completionTokens);
      const parsed = parseReply(result.text, {
        space: ctx.space,
        model: ctx.model,
        objective: ctx.objective,
        measured: measuredKeys(ctx.space, history),
        maxProposals: k,
      });
      if (parsed.stop && !leader(ctx.objective, history)) {
        parsed.errors.push('"stop" before any feasible trial was measured: propose at least one configuration');
        parsed.stop = undefined;
      }
      for (const r of parsed.rejected) {
        emit({ type: 'rejected', config: r.config, reasons: r.reasons, source: 'llm' });
        this.rejections.push(`${JSON.stringify(r.config)?.slice(0, 200)}: ${r.reasons.join('; ')}`);
      }
      for (const x of parsed.explanations) {
        if (history.some((t) => t.index === x.trial)) {
          emit({ type: 'explanation', trial: x.trial, why: x.why });
          this.explained.add(x.trial);
        }
      }
      const usable = !!parsed.stop || parsed.proposals.length > 0;
      const truncated = result.finishReason === 'length' ? ' (the reply was cut off: finish_reason length)' : '';
      record({
        outcome: usable ? 'ok' : 'invalid',
        attempts: result.attempts,
        ms: result.ms,
        promptTokens: result.promptTokens,
        completionTokens: result.completionTokens,
        costUsd: cost,
        valid: parsed.proposals.length,
        rejected: parsed.rejected.length,
        error: usable
          ? undefined
          : `${[...parsed.errors, ...parsed.rejected.flatMap((r) => r.reasons)].join('; ').slice(0, 500)}${truncated}`,
      });
      if (parsed.stop) {
        this.stopReason = `the agent decided to stop: ${parsed.stop}`;
        emit({ type: 'stop', reason: parsed.stop });
        return [];
      }
      if (parsed.proposals.length) return parsed.proposals.map((p) => ({ ...p, source: 'llm' }));
      const reasons = [...parsed.errors, ...parsed.rejected.flatMap((r) => r.reasons)];
      if (round >= this.settings.repairRounds) {
        const rounds = `${round + 1} round${round ? 's' : ''}`;
        throw new LlmError(
          'invalid',
          `the LLM gave no valid proposal in ${rounds}: ${reasons.join('; ').slice(0, 400)}${truncated}`,
          {
            cli: 'try a stronger model, or raise --llm-repair-rounds',
            vscode: 'try a stronger model ({option})',
            setting: 'haqa.llm.model',
          },
        );
      }
      round++;
      const problems = `${reasons.length} problem${reasons.length > 1 ? 's' : ''}`;
      const repair = `round ${round} of ${this.settings.repairRounds}`;
      emit({ type: 'info', message: `LLM reply unusable (${problems}): asking for a repair (${repair})` });
      extra.push(
        { role: 'assistant', content: result.text.slice(0, MAX_ECHO) },
        {
          role: 'user',
          content:
            `Your reply could not be used:\n${reasons.map((r) => `- ${r}`).join('\n')}\n` +
            'Reply again with the complete JSON object: only new configurations with every knob inside its domain ' +
            '(or decide "stop" with a reason).',
        },
      );
    }
  }

  private cost(pin?: number, pout?: number): number | undefined {
    const { priceInPerMTok: a, priceOutPerMTok: b } = this.settings;
    if (a === undefined && b === undefined) return undefined;
    return ((pin ?? 0) * (a ?? 0) + (pout ?? 0) * (b ?? 0)) / 1e6;
  }
}

/**
 * `llm` and `auto` with an endpoint: the agent, with the built-in strategy as the fallback. `auto` hands over at the
 * first failure before the agent has ever answered; both hand over for the rest of the session after
 * `maxFailures` consecutive failed calls, and use the built-in strategy for a round after a single failure. `llm`
 * fails the session instead when the endpoint is misconfigured (key, model, URL) before it ever answered.
 */
export class AgentStrategy implements Strategy {
  readonly name = 'llm';
  stopReason?: string;
  private failures = 0;
  private answered = false;
  private fallenBack = false;
  private readonly fallback = new BuiltinStrategy();

  constructor(
    readonly llm: LlmStrategy,
    readonly requested: 'llm' | 'auto',
  ) {}

  get usingFallback(): boolean {
    return this.fallenBack;
  }

  async propose(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]> {
    this.stopReason = undefined;
    if (this.fallenBack) return this.builtin(ctx, history, n);
    try {
      const out = await this.llm.propose(ctx, history);
      this.failures = 0;
      this.answered = true;
      this.stopReason = this.llm.stopReason;
      return out;
    } catch (e) {
      if (!(e instanceof LlmError) || e.kind === 'aborted' || ctx.signal?.aborted) throw e;
      this.failures++;
      const config = ['auth', 'not-found', 'bad-request', 'context', 'network'].includes(e.kind);
      if (this.requested === 'llm' && config && !this.answered) throw e;
      const { maxFailures } = this.llm.settings;
      const permanent = this.failures >= maxFailures || (this.requested === 'auto' && !this.answered);
      if (permanent) this.fallenBack = true;
      const until = permanent
        ? ''
        : ` (failure ${this.failures} of ${maxFailures} before the built-in strategy takes over)`;
      ctx.onEvent?.({ type: 'fallback', permanent, cause: `${e.message}${until}` });
      return this.builtin(ctx, history, n);
    }
  }

  private async builtin(ctx: StrategyContext, history: TrialRecord[], n: number): Promise<Proposal[]> {
    return (await this.fallback.propose(ctx, history, n)).map((p) => ({ ...p, source: 'builtin' }));
  }
}

/** The exact next request the agent would send (schema haqa.prompt.v1), built and not sent; the key is never shown. */
export function promptPreview(o: {
  strategy: unknown;
  settings?: LlmSettings;
  model: string;
  hasKey: boolean;
  ctx: StrategyContext;
  history: TrialRecord[];
}): Record<string, unknown> {
  const settings: LlmSettings = o.settings ?? { ...DEFAULT_LLM, baseUrl: '', model: o.model };
  const agent = o.strategy instanceof AgentStrategy ? o.strategy.llm : new LlmStrategy(settings, undefined);
  const body = agent.nextRequest(o.ctx, o.history);
  return {
    schema: 'haqa.prompt.v1',
    url: settings.baseUrl ? agent.url : null,
    note: settings.baseUrl
      ? 'not sent'
      : 'no endpoint configured (--llm-base-url / HAQA_LLM_BASE_URL / haqa.llm.baseUrl): this is what would be sent',
    headers: { Authorization: o.hasKey ? 'Bearer <the key, not shown>' : 'Bearer no-key (no key configured)' },
    body,
  };
}
