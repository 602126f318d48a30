/**
 * "Compare with Best" as a person reads it: a Markdown document with the knobs of the verdict's trial and of another
 * trial side by side (≠ on the ones that differ), their metrics rounded as the session panel's table rounds them
 * (mean ± sd, ΔPPL ± its error, KLD to 4 places), where the trial stands against the verdict and what the comparison
 * rule says of the two. Pure: the extension shows the text in a read-only editor.
 */
import { configDiff, knobValue } from './configDiff';
import { describeObjective, type ObjectiveSpec } from './objective';
import { standing } from './standing';
import { compare, describeRule, objectiveStat, trialLabel, verdict } from './verdict';
import { peakMemBytes, type Stat, type TrialRecord } from './types';

const pm = (mean: number, err: number | undefined, digits: number) =>
  `${mean.toFixed(digits)}${err === undefined ? '' : ` ± ${err.toFixed(digits)}`}`;
const speed = (s?: Stat) => (s ? `${pm(s.mean, s.sd, 1)} (n ${s.n})` : '–');
const mib = (b?: number) => (b === undefined ? '–' : (b / 2 ** 20).toFixed(1));

/** The table's metric rows: a name and each trial's value as text. */
const METRICS: [string, (t: TrialRecord) => string][] = [
  ['status', (t) => t.status],
  ['decode t/s', (t) => speed(t.metrics.decode)],
  ['prefill t/s', (t) => speed(t.metrics.prefill)],
  ['size MiB', (t) => mib(t.metrics.fileSizeBytes)],
  ['peak memory MiB', (t) => mib(peakMemBytes(t.metrics))],
  ['ΔPPL %', (t) => (t.metrics.accuracy ? pm(t.metrics.accuracy.dPplPct, t.metrics.accuracy.dPplPctErr, 2) : '–')],
  ['KLD', (t) => (t.metrics.accuracy ? t.metrics.accuracy.kld.toFixed(4) : '–')],
];

/** A Markdown table whose columns are padded to one width, so it reads as a table in the editor too. */
export function markdownTable(head: string[], rows: string[][]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const all = [head, ...rows].map((r) => r.map(cell));
  const w = head.map((_, i) => Math.max(3, ...all.map((r) => [...r[i]].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c + ' '.repeat(w[i] - [...c].length)).join(' | ')} |`;
  return [line(all[0]), `| ${w.map((n) => '-'.repeat(n)).join(' | ')} |`, ...all.slice(1).map(line)].join('\n');
}

/**
 * What the comparison rule says of the objective's measurement of `best` against `other`: "★ #2 Q4_K_M decodes
 * 12.3 % faster than #4 Q8_0, beyond noise", "… not separated by the rule (… 0.4 % apart)", or why it cannot say.
 */
export function ruleRelation(o: ObjectiveSpec, best: TrialRecord, other: TrialRecord): string {
  const a = objectiveStat(o, best.metrics);
  const b = objectiveStat(o, other.metrics);
  const what = o.kind === 'balanced' ? 'score' : o.kind;
  if (!a || !b) return `no ${what} to compare: ${!a ? trialLabel(best) : trialLabel(other)} has none`;
  const c = compare(a, b);
  const pct = (r: number) => `${(Math.abs(r - 1) * 100).toFixed(1)} %`;
  const verb = o.kind === 'balanced' ? 'scores' : `${o.kind}s`;
  const more = o.kind === 'balanced' ? 'higher' : 'faster';
  if (c.order === 1)
    return `${trialLabel(best)} ${verb} ${pct(c.ratio)} ${more} than ${trialLabel(other)}, beyond noise`;
  if (c.order === -1)
    return `${trialLabel(other)} ${verb} ${pct(1 / c.ratio)} ${more} than ${trialLabel(best)}, beyond noise`;
  return `${trialLabel(best)} and ${trialLabel(other)} are not separated by the rule (${what} ${pct(c.ratio)} apart)`;
}

/**
 * The comparison of trial `trial` with `best` (the verdict's trial) among a session's `trials`, as Markdown. With the
 * verdict's trial itself, one column. `order`: the search space's knob order (else the configurations').
 */
export function compareText(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  best: TrialRecord,
  trial: TrialRecord,
  order: readonly string[] = [],
): string {
  const v = verdict(o, trials);
  const same = best.index === trial.index;
  const shown = same ? [best] : [best, trial];
  const cols = shown.map((t) => (t.index === best.index ? `★ ${trialLabel(t)}` : trialLabel(t)));
  const differ = new Set(configDiff(best.config, trial.config, order).map((c) => c.knob));
  const knobs = [...new Set([...order, ...Object.keys(best.config), ...Object.keys(trial.config)])].filter(
    (k) => k in best.config || k in trial.config,
  );
  const knobRows = knobs.map((k) => [differ.has(k) ? '≠' : '', k, ...shown.map((t) => knobValue(t.config[k]))]);
  const metricRows = METRICS.map(([name, f]) => [name, ...shown.map(f)]);
  const title = same
    ? `# ${trialLabel(trial)}: ★ the verdict`
    : `# ${trialLabel(trial)} compared with ★ ${trialLabel(best)}`;
  const differing = same ? '' : ` (≠: the ${differ.size} that differ${differ.size === 1 ? 's' : ''})`;
  const why = shown
    .map((t) => `- ${trialLabel(t)}: ${t.rationale ?? 'no rationale recorded'} (proposed by ${t.strategy})`)
    .join('\n');
  return [
    title,
    '',
    `Objective: ${describeObjective(o)}.`,
    '',
    `**Standing:** ${standing(o, trials, v, trial.index).sentence}.`,
    ...(same ? [] : ['', `**By the rule** (${describeRule()}): ${ruleRelation(o, best, trial)}.`]),
    '',
    `## Knobs${differing}`,
    '',
    markdownTable(['', 'knob', ...cols], knobRows),
    '',
    '## Metrics (mean ± sd over the repetitions, n samples; ΔPPL ± its standard error)',
    '',
    markdownTable(['metric', ...cols], metricRows),
    '',
    '## Why they were proposed',
    '',
    why,
    '',
  ].join('\n');
}
