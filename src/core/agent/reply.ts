/**
 * The agent's reply: its JSON schema (built from the search space, so a schema-enforcing server cannot even produce
 * an out-of-domain value) and the validation every reply goes through anyway — no server is trusted to enforce it.
 */
import { estimatedFileBytes } from '../ggml';
import type { ObjectiveSpec } from '../objective';
import type { SearchSpace } from '../space';
import type { Config, ModelInfo } from '../types';
import type { Proposal } from '../strategies/strategy';

export const REPLY_NAME = 'haqa_proposals';

/** JSON schema of a reply (OpenAI strict-mode compatible: every property required, no extra properties). */
export function replySchema(space: SearchSpace): Record<string, unknown> {
  const knobProps: Record<string, unknown> = {};
  for (const k of space.knobs) {
    knobProps[k.name] =
      k.kind === 'bool'
        ? { type: 'boolean', description: k.meaning }
        : { type: k.kind === 'int' ? 'integer' : 'string', enum: k.values, description: k.meaning };
  }
  const strOrNull = { type: ['string', 'null'] };
  return {
    type: 'object',
    additionalProperties: false,
    required: ['decision', 'stop_reason', 'proposals', 'explanations'],
    properties: {
      decision: { type: 'string', enum: ['propose', 'stop'] },
      stop_reason: {
        ...strOrNull,
        description: 'with decision "stop": converged, budget, or nothing left worth trying, and why',
      },
      proposals: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['config', 'rationale', 'expected_effect', 'counterintuitive', 'counterintuitive_why'],
          properties: {
            config: {
              type: 'object',
              additionalProperties: false,
              required: space.knobs.map((k) => k.name),
              properties: knobProps,
            },
            rationale: { type: 'string', description: 'why this configuration, from the measurements so far' },
            expected_effect: {
              type: 'string',
              description: 'the expected decode/prefill/size effect, with numbers where possible',
            },
            counterintuitive: { type: 'boolean', description: 'true when the choice goes against a naive prior' },
            counterintuitive_why: { ...strOrNull, description: 'why the prior should fail here' },
          },
        },
      },
      explanations: {
        type: 'array',
        description: 'why each measured contradiction of a prior happened',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['trial', 'why'],
          properties: { trial: { type: 'integer' }, why: { type: 'string' } },
        },
      },
    },
  };
}

export interface ParsedReply {
  stop?: string;
  proposals: Proposal[];
  rejected: { config: unknown; reasons: string[] }[];
  explanations: { trial: number; why: string }[];
  /** Problems with the reply as a whole (not JSON, wrong shape); non-empty means nothing in it was usable. */
  errors: string[];
}

/** Free text from a model or a tool: control characters out, whitespace collapsed, length capped. */
export function cleanText(v: unknown, max = 400): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return s ? (s.length > max ? `${s.slice(0, max - 1)}…` : s) : undefined;
}

/** The JSON value in a reply: the whole text, else a ```json fence, else the outermost {...}. */
export function extractJson(text: string): { value?: unknown; error?: string } {
  const tries = [text.trim()];
  const fence = text.match(/```(?:json)?\s*([\s\S]*?)```/i);
  if (fence) tries.push(fence[1].trim());
  const a = text.indexOf('{');
  const b = text.lastIndexOf('}');
  if (a >= 0 && b > a) tries.push(text.slice(a, b + 1));
  let first: string | undefined;
  for (const t of tries) {
    try {
      return { value: JSON.parse(t) };
    } catch (e) {
      first ??= (e as Error).message;
    }
  }
  return { error: `the reply is not valid JSON (${first ?? 'empty'})` };
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export interface ReplyContext {
  space: SearchSpace;
  model: ModelInfo;
  objective: ObjectiveSpec;
  /** Keys of configurations already measured. */
  measured: Set<string>;
  maxProposals: number;
}

/**
 * Parses and validates one reply. A proposal is kept only if its config is a valid point of the space (known knobs,
 * plain values inside each domain, the space's constraints), is not already measured or repeated, and is not
 * estimated to break the size/memory limits; every other one is rejected with its reasons.
 */
export function parseReply(text: string, c: ReplyContext): ParsedReply {
  const out: ParsedReply = { proposals: [], rejected: [], explanations: [], errors: [] };
  const { value, error } = extractJson(text);
  if (error) {
    out.errors.push(error);
    return out;
  }
  if (!isObj(value)) {
    out.errors.push('the reply must be a JSON object with "decision", "stop_reason", "proposals" and "explanations"');
    return out;
  }
  if (Array.isArray(value.explanations)) {
    for (const e of value.explanations) {
      const why = isObj(e) ? cleanText(e.why) : undefined;
      if (isObj(e) && Number.isInteger(e.trial) && why) out.explanations.push({ trial: e.trial as number, why });
    }
  }
  if (value.decision === 'stop') {
    out.stop = cleanText(value.stop_reason, 300) ?? 'the agent decided to stop (no reason given)';
    return out;
  }
  if (value.decision !== undefined && value.decision !== 'propose')
    out.errors.push(`"decision" must be "propose" or "stop", got ${JSON.stringify(value.decision)?.slice(0, 40)}`);
  if (!Array.isArray(value.proposals)) {
    out.errors.push(
      '"proposals" must be an array of {config, rationale, expected_effect, counterintuitive, counterintuitive_why}',
    );
    return out;
  }
  if (value.proposals.length === 0)
    out.errors.push('"proposals" is empty: propose at least one configuration, or decide "stop" with a reason');
  const seen = new Set<string>();
  value.proposals.forEach((p, i) => {
    const label = `proposal ${i + 1}`;
    if (i >= c.maxProposals) {
      out.rejected.push({
        config: isObj(p) ? p.config : p,
        reasons: [`${label}: more than the ${c.maxProposals} proposals asked for`],
      });
      return;
    }
    if (!isObj(p)) {
      out.rejected.push({ config: p, reasons: [`${label} is not an object`] });
      return;
    }
    const reasons = c.space.validate(p.config).map((r) => `${label}: ${r}`);
    if (!reasons.length) {
      const cfg = c.space.canonical(p.config as Config);
      const key = c.space.key(cfg);
      if (c.measured.has(key)) reasons.push(`${label}: duplicate of a measured configuration`);
      else if (seen.has(key)) reasons.push(`${label}: the same configuration twice in one reply`);
      const q = String(cfg.quant ?? '');
      const est = q ? estimatedFileBytes(c.model, q) : 0;
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
      // 15 % slack: the estimate is bits-per-weight arithmetic, the limit is checked again on the measured file.
      if (c.objective.maxSizeBytes && est > c.objective.maxSizeBytes * 1.15)
        reasons.push(
          `${label}: ${q} is estimated at ${mib(est)}, over the ${mib(c.objective.maxSizeBytes)} size limit`,
        );
      if (c.objective.maxMemBytes && est > c.objective.maxMemBytes * 1.15)
        reasons.push(
          `${label}: ${q} alone is estimated at ${mib(est)}, over the ${mib(c.objective.maxMemBytes)} memory limit`,
        );
      if (!reasons.length) {
        seen.add(key);
        const flagged = p.counterintuitive === true;
        out.proposals.push({
          config: cfg,
          rationale: cleanText(p.rationale) ?? 'no rationale given',
          expectedEffect: cleanText(p.expected_effect),
          counterintuitive: flagged
            ? (cleanText(p.counterintuitive_why) ?? 'flagged counterintuitive (no reason given)')
            : undefined,
        });
        return;
      }
    }
    out.rejected.push({ config: p.config, reasons });
  });
  return out;
}
