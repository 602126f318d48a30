/**
 * The two Chart.js scatter plots (the objective vs file size, and vs ΔPPL % when accuracy was measured): which trial
 * goes to which dataset comes from ../model; this adds the theme's colours, draws and updates in place.
 */
import { Chart, Legend, LinearScale, LogarithmicScale, PointElement, ScatterController, Tooltip } from 'chart.js';
import type { SessionState } from '../protocol';
import { chartedTrials, chartPoints, chartSpecs, chartYTitle, fmt } from '../model';

Chart.register(ScatterController, LinearScale, LogarithmicScale, PointElement, Tooltip, Legend);

const charts: Chart[] = [];
/** The body's theme class and whether the ΔPPL chart shows: when either changes, the charts are made again. */
let chartTheme = '';

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export function renderCharts(s: SessionState): void {
  const fg = cssVar('--vscode-foreground', '#888');
  const grid = cssVar('--vscode-panel-border', 'rgba(128,128,128,0.3)');
  const colours = {
    other: cssVar('--vscode-charts-blue', '#3794ff'),
    pareto: cssVar('--vscode-charts-green', '#89d185'),
    best: cssVar('--vscode-charts-yellow', '#cca700'),
    infeasible: cssVar('--vscode-charts-red', '#f14c4c'),
  };
  const measured = chartedTrials(s);
  const yTitle = chartYTitle(s.objectiveKind);
  const specs = chartSpecs(s, measured);
  const acc = specs.length > 1;
  document.getElementById('chart-dppl-box')!.hidden = !acc;
  const theme = `${document.body.className}|${acc}`;
  if (theme !== chartTheme) {
    for (const c of charts.splice(0)) c.destroy();
    chartTheme = theme;
  }
  specs.forEach(({ id, xTitle, x }, i) => {
    const canvas = document.getElementById(id) as HTMLCanvasElement;
    const points = chartPoints(s, x, measured);
    const datasets = [
      {
        label: 'best',
        data: points.best,
        backgroundColor: colours.best,
        pointRadius: 7,
        pointStyle: 'star' as const,
        borderColor: colours.best,
      },
      { label: 'Pareto front', data: points.pareto, backgroundColor: colours.pareto, pointRadius: 5 },
      { label: 'other', data: points.other, backgroundColor: colours.other, pointRadius: 4 },
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
    const existing = charts[i];
    if (existing) {
      existing.data.datasets = datasets;
      existing.update('none');
      return;
    }
    charts[i] = new Chart(canvas, {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { labels: { color: fg } },
          tooltip: {
            callbacks: {
              label: (c) => {
                const index = (c.raw as { index: number }).index;
                return `#${index}: ${fmt(c.parsed.y ?? undefined)} t/s, ${fmt(c.parsed.x ?? undefined, 3)} ${xTitle}`;
              },
            },
          },
        },
        scales: {
          x: { title: { display: true, text: xTitle, color: fg }, ticks: { color: fg }, grid: { color: grid } },
          y: { title: { display: true, text: yTitle, color: fg }, ticks: { color: fg }, grid: { color: grid } },
        },
      },
    });
  });
}
