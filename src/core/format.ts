import { score, type ObjectiveSpec } from './objective';
import { ALL_LAYERS, quantRecipe } from './knobs';
import { peakMemBytes, type Config, type Stat, type TrialRecord } from './types';

export const mib = (b?: number) => (b === undefined ? '-' : (b / 2 ** 20).toFixed(1));
export const stat = (s?: Stat) => (s ? `${s.mean.toFixed(1)} ± ${s.sd.toFixed(1)}` : '-');

/**
 * A compact one-line form of a configuration, e.g. "Q4_0+out=f16 t=2 fa=on b=2048/512 kv=f16/f16": the one form the
 * CLI, the tree, the webview's table, card and header use. The recipe's extras are always named (two files of one
 * type must not look alike); knobs the configuration does not set are left out.
 */
export function shortConfig(c: Config): string {
  const r = quantRecipe(c);
  let q = String(r.quant);
  if (r.imatrix) q += `+imatrix(${r.imatrix},${r.imatrix_chunks})`;
  if (r.output_type) q += `+out=${r.output_type}`;
  if (r.embd_type) q += `+embd=${r.embd_type}`;
  if (r.tensor_overrides) q += `+${r.tensor_overrides}`;
  const parts = [q];
  if (c.threads !== undefined) parts.push(`t=${String(c.threads)}`);
  if (c.gpu_layers !== undefined) parts.push(`ngl=${String(c.gpu_layers)}`);
  if (Number(c.n_cpu_moe ?? 0) > 0) parts.push(`ncmoe=${String(c.n_cpu_moe)}`);
  if (c.split_mode !== undefined && c.split_mode !== 'layer') parts.push(`sm=${String(c.split_mode)}`);
  if (c.tensor_split !== undefined && c.tensor_split !== 'auto') parts.push(`ts=${String(c.tensor_split)}`);
  if (c.flash_attn !== undefined) parts.push(`fa=${c.flash_attn ? 'on' : 'off'}`);
  if (c.batch !== undefined) parts.push(`b=${String(c.batch)}/${String(c.ubatch)}`);
  if (c.cache_type_k !== undefined) parts.push(`kv=${String(c.cache_type_k)}/${String(c.cache_type_v)}`);
  return parts.join(' ');
}

/** Seconds as a cost or an estimate says them: "3.4 s", "45 s", "2.9 min". */
export function fmtSeconds(s: number): string {
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  return `${(s / 60).toFixed(1)} min`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(w[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The results table: config, metrics ± sd, Pareto (P) and best (★) marks, failure causes. */
export function trialsTable(
  o: ObjectiveSpec,
  trials: TrialRecord[],
  bestT?: TrialRecord,
  pareto: TrialRecord[] = [],
  tied: number[] = [],
): string {
  const acc = trials.some((t) => t.metrics.accuracy);
  const head = [
    '#',
    'status',
    'config',
    'decode t/s',
    'prefill t/s',
    'size MiB',
    'peak mem MiB',
    ...(acc ? ['ΔPPL %', 'KLD'] : []),
    'mark',
    'note',
  ];
  const ps = new Set(pareto.map((t) => t.index));
  const rows = [...trials]
    .sort((a, b) => (score(o, b.metrics) ?? -1) - (score(o, a.metrics) ?? -1) || a.index - b.index)
    .map((t) => [
      String(t.index),
      t.status,
      shortConfig(t.config),
      stat(t.metrics.decode),
      stat(t.metrics.prefill),
      mib(t.metrics.fileSizeBytes),
      mib(peakMemBytes(t.metrics)),
      ...(acc ? accuracyCells(t) : []),
      `${t.index === bestT?.index ? '★' : tied.includes(t.index) ? '≈' : ''}${ps.has(t.index) ? 'P' : ''}`,
      t.cause ? t.cause.slice(0, 80) : '',
    ]);
  return table([head, ...rows]);
}

function accuracyCells(t: TrialRecord): string[] {
  const a = t.metrics.accuracy;
  return a ? [`${a.dPplPct.toFixed(2)} ± ${(a.dPplPctErr ?? 0).toFixed(2)}`, a.kld.toFixed(4)] : ['-', '-'];
}

/** Accuracy in one phrase, e.g. "ΔPPL 1.39 ± 0.16 %, KLD 0.0227 (p99 0.101), same top 93.1 %". */
export function accuracyText(a?: Record<string, number>): string {
  if (!a) return '';
  const ppl = `ΔPPL ${a.dPplPct.toFixed(2)} ± ${(a.dPplPctErr ?? 0).toFixed(2)} %`;
  const p99 = a.kld99 !== undefined ? ` (p99 ${a.kld99.toFixed(3)})` : '';
  const sameTop = a.sameTopPct !== undefined ? `, same top token ${a.sameTopPct.toFixed(1)} %` : '';
  return `${ppl}, KLD ${a.kld.toFixed(4)}${p99}${sameTop}`;
}

/** Everything known about one trial, as plain text lines (tree tooltips, reports). */
export function trialDetails(t: TrialRecord): string {
  const out = [
    `#${t.index} ${t.status}${t.cause ? `: ${t.cause}` : ''} (proposed by ${t.strategy})`,
    shortConfig(t.config),
    `decode ${stat(t.metrics.decode)} t/s, prefill ${stat(t.metrics.prefill)} t/s, ${mib(t.metrics.fileSizeBytes)} MiB`,
  ];
  if (t.metrics.accuracy) out.push(accuracyText(t.metrics.accuracy));
  if (t.rationale) out.push(`why: ${t.rationale}`);
  if (t.expectedEffect) out.push(`expected: ${t.expectedEffect}`);
  if (t.counterintuitive) out.push(`flagged counterintuitive: ${t.counterintuitive}`);
  for (const f of t.findings ?? [])
    out.push(`counterintuitive, measured: ${f.evidence}`, `  likely why: ${f.explanation}`);
  return out.join('\n');
}

/** "gpu_layers 22, n_cpu_moe 4": a placement (llama.cpp's fit) in the knobs' words. */
export const placementLabel = (f: { gpu_layers: number; n_cpu_moe?: number }) =>
  `gpu_layers ${f.gpu_layers === ALL_LAYERS ? 'all' : f.gpu_layers}` +
  (f.n_cpu_moe !== undefined ? `, n_cpu_moe ${f.n_cpu_moe}` : '');
