/**
 * What changed between two configurations, knob by knob ("ubatch 512 → 256"): the review card shows a proposal against
 * the best and the previous trial with it, Compare with Best marks the knobs that differ. Pure; imports only types, so
 * the webview bundle takes it too.
 */
import type { Config, ConfigValue } from './types';

export interface KnobChange {
  knob: string;
  from?: ConfigValue;
  to?: ConfigValue;
}

/** A knob's value as a person reads it: on / off for flags, "–" where the configuration does not set the knob. */
export const knobValue = (v: ConfigValue | undefined): string =>
  v === undefined ? '–' : typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);

/**
 * The knobs whose value differs from `from` to `to`, in `order` (the search space's knob order) and then in the order
 * the configurations name them; a knob only one of them sets counts as a change.
 */
export function configDiff(from: Config, to: Config, order: readonly string[] = []): KnobChange[] {
  const names = [...new Set([...order, ...Object.keys(from), ...Object.keys(to)])];
  return names
    .filter((k) => (k in from || k in to) && from[k] !== to[k])
    .map((knob) => ({ knob, from: from[knob], to: to[knob] }));
}

/** "ubatch 512 → 256, flash_attn off → on"; "no knob differs" when there is no change. */
export function describeChanges(changes: readonly KnobChange[]): string {
  if (!changes.length) return 'no knob differs';
  return changes.map((c) => `${c.knob} ${knobValue(c.from)} → ${knobValue(c.to)}`).join(', ');
}
