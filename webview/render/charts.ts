/**
 * The two Chart.js scatter plots (the objective vs file size, and vs ΔPPL % when accuracy was measured): which trial
 * goes to which dataset, and each point's ±, come from ../model; this adds the theme's colours, draws the error bars
 * (Chart.js has none: a small plugin below) and updates in place.
 */
import {
  Chart,
  Legend,
  LinearScale,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type Plugin,
} from 'chart.js';
import type { SessionState } from '../protocol';
import {
  chartedTrials,
  chartPoints,
  chartSpecs,
  chartYTitle,
  errorBarNote,
  hexColour,
  legible,
  parseColour,
  pointLabel,
  type ChartPoint,
} from '../model';

/** Half the width of an error bar's end caps, in CSS pixels. */
const CAP = 3;

/**
 * Error bars for scatter points that carry `yErr` / `xErr` (see ChartPoint): each scale's range grows to hold them
 * (the speed axis, plus 5 % room, never below 0 when every speed is positive: a bar that reaches further is cut at the
 * axis), then a line with end caps is drawn through each point in its dataset's colour, under the points. The canvas's
 * `data-error-bars` says how many points got one.
 */
const errorBars: Plugin<'scatter'> = {
  id: 'haqaErrorBars',
  afterDataLimits(chart, { scale }) {
    if (scale.axis !== 'x' && scale.axis !== 'y') return;
    const y = scale.axis === 'y';
    let [lo, hi, positive] = [scale.min, scale.max, true];
    for (const [i, ds] of chart.data.datasets.entries()) {
      if (!chart.isDatasetVisible(i)) continue;
      for (const p of ds.data as ChartPoint[]) {
        const [v, e] = y ? [p.y, p.yErr ?? 0] : [p.x, p.xErr ?? 0];
        positive &&= v >= 0;
        lo = Math.min(lo, v - e);
        hi = Math.max(hi, v + e);
      }
    }
    if (y) {
      const room = (hi - lo) * 0.05;
      [lo, hi] = [positive ? Math.max(0, lo - room) : lo - room, hi + room];
    }
    scale.min = lo;
    scale.max = hi;
  },
  beforeDatasetsDraw(chart) {
    const { ctx, chartArea: area, scales } = chart;
    let bars = 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
    ctx.clip();
    ctx.lineWidth = 1;
    for (const [i, ds] of chart.data.datasets.entries()) {
      if (!chart.isDatasetVisible(i)) continue;
      ctx.strokeStyle = String(ds.borderColor ?? ds.backgroundColor ?? '#888');
      ctx.beginPath();
      for (const p of ds.data as ChartPoint[]) {
        const px = scales.x.getPixelForValue(p.x);
        const py = scales.y.getPixelForValue(p.y);
        let drawn = false;
        if (p.yErr) {
          const [lo, hi] = [scales.y.getPixelForValue(p.y - p.yErr), scales.y.getPixelForValue(p.y + p.yErr)];
          ctx.moveTo(px, lo);
          ctx.lineTo(px, hi);
          for (const end of [lo, hi]) {
            ctx.moveTo(px - CAP, end);
            ctx.lineTo(px + CAP, end);
          }
          drawn = true;
        }
        if (p.xErr) {
          const [lo, hi] = [scales.x.getPixelForValue(p.x - p.xErr), scales.x.getPixelForValue(p.x + p.xErr)];
          ctx.moveTo(lo, py);
          ctx.lineTo(hi, py);
          for (const end of [lo, hi]) {
            ctx.moveTo(end, py - CAP);
            ctx.lineTo(end, py + CAP);
          }
          drawn = true;
        }
        if (drawn) bars++;
      }
      ctx.stroke();
    }
    ctx.restore();
    chart.canvas.dataset.errorBars = String(bars);
  },
};

Chart.register(ScatterController, LinearScale, LogarithmicScale, PointElement, Tooltip, Legend, errorBars);

const charts: Chart<'scatter', ChartPoint[]>[] = [];
/** The body's theme class and whether the ΔPPL chart shows: when either changes, the charts are made again. */
let chartTheme = '';

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** A 2D context that only reads colours back (made once). */
let colourReader: CanvasRenderingContext2D | null | undefined;

/** Any CSS colour as a canvas writes it back (`#rrggbb`, or `rgba(...)` with alpha). */
function canvasColour(value: string): string {
  colourReader ??= document.createElement('canvas').getContext('2d');
  const ctx = colourReader;
  if (!ctx) return value;
  // A value the canvas does not take leaves the last one: start from a fresh canvas's default, as a new one would.
  ctx.fillStyle = '#000000';
  ctx.fillStyle = value;
  return String(ctx.fillStyle);
}

export function renderCharts(s: SessionState): void {
  // style.css maps each to the theme's variables (--haqa-chart-*: the theme's chart colours, others where one of those
  // would fall under 4.5:1 in High Contrast Light).
  const fg = cssVar('--haqa-chart-text', '#888');
  const grid = cssVar('--haqa-chart-grid', 'rgba(128,128,128,0.3)');
  // Each series' marks stand out from the background by 3:1 (WCAG 1.4.11) in every theme: a theme chart colour that
  // does not (Light Modern's orange and yellow on white) is darkened (lightened on a dark background) just enough.
  const background = parseColour(getComputedStyle(document.body).backgroundColor);
  const marks = (name: string, fallback: string) => {
    const value = cssVar(name, fallback);
    const rgb = parseColour(canvasColour(value));
    return rgb && background ? hexColour(legible(rgb, background, 3)) : value;
  };
  const colours = {
    other: marks('--haqa-chart-other', '#3794ff'),
    pareto: marks('--haqa-chart-pareto', '#89d185'),
    best: marks('--haqa-chart-best', '#cca700'),
    tied: marks('--haqa-chart-tied', '#d18616'),
    infeasible: marks('--haqa-chart-infeasible', '#f14c4c'),
  };
  const measured = chartedTrials(s);
  const yTitle = chartYTitle(s.objectiveKind);
  const specs = chartSpecs(s, measured);
  const acc = specs.length > 1;
  document.getElementById('chart-dppl-box')!.hidden = !acc;
  document.getElementById('chart-note')!.textContent = measured.length ? errorBarNote(s.objectiveKind, specs) : '';
  const theme = `${document.body.className}|${acc}`;
  if (theme !== chartTheme) {
    for (const c of charts.splice(0)) c.destroy();
    chartTheme = theme;
  }
  specs.forEach((spec, i) => {
    const { id, xTitle, x, xErr } = spec;
    const canvas = document.getElementById(id) as HTMLCanvasElement;
    const points = chartPoints(s, x, measured, xErr);
    const datasets = [
      {
        label: '★ best (the verdict)',
        data: points.best,
        backgroundColor: colours.best,
        pointRadius: 7,
        pointStyle: 'star' as const,
        borderColor: colours.best,
      },
      {
        label: '≈ best (within noise)',
        data: points.tied,
        backgroundColor: colours.tied,
        borderColor: colours.tied,
        pointRadius: 5,
        pointStyle: 'rectRot' as const,
      },
      {
        label: 'Pareto front',
        data: points.pareto,
        backgroundColor: colours.pareto,
        borderColor: colours.pareto,
        pointRadius: 5,
      },
      {
        label: 'other',
        data: points.other,
        backgroundColor: colours.other,
        borderColor: colours.other,
        pointRadius: 4,
      },
      {
        label: 'over a limit',
        data: points.infeasible,
        backgroundColor: colours.infeasible,
        pointRadius: 4,
        pointStyle: 'crossRot' as const,
        borderColor: colours.infeasible,
      },
    ];
    canvas.dataset.points = String(datasets.reduce((n, d) => n + d.data.length, 0));
    // The theme the chart was last drawn in (tests wait on it after a theme change, not on a clock), and the colours
    // it was drawn with (the e2e measures their contrast: a canvas has no computed text colour to read).
    canvas.dataset.theme = document.body.className;
    canvas.dataset.colours = JSON.stringify({ text: fg, ...colours });
    const existing = charts[i];
    if (existing) {
      existing.data.datasets = datasets;
      existing.update('none');
      return;
    }
    charts[i] = new Chart<'scatter', ChartPoint[]>(canvas, {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          // Only the kinds of point the chart has: one line of legend, not two, on a narrow panel early in a session.
          legend: {
            labels: {
              color: fg,
              usePointStyle: true,
              filter: (item, data) => !!data.datasets[item.datasetIndex!]?.data.length,
            },
          },
          tooltip: {
            callbacks: { label: (c) => pointLabel(s.objectiveKind, c.raw as ChartPoint, spec) },
          },
        },
        scales: {
          // Some room around the outermost points, which would sit on the axes (the plugin gives y its room).
          x: {
            grace: '5%',
            title: { display: true, text: xTitle, color: fg },
            ticks: { color: fg },
            grid: { color: grid },
          },
          y: {
            title: { display: true, text: yTitle, color: fg },
            ticks: { color: fg },
            grid: { color: grid },
          },
        },
      },
    });
  });
}
