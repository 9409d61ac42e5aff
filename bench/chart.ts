export interface LatencyPoint {
  readonly rate: number;
  readonly windowMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 48, right: 190, bottom: 56, left: 72 };
const COLORS: Readonly<Record<number, string>> = { 500: '#1f77b4', 2000: '#d62728' };
const FALLBACK_COLORS = ['#2ca02c', '#9467bd', '#8c564b'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round step for about five ticks between 0 and `max`. */
function tickStep(max: number): number {
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  return (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude;
}

/**
 * End-to-end latency (p50 solid, p99 dashed) against the producer rate on a log axis, one colour per batching
 * window, with each window's target (window + 500 ms) as a dotted line. Plain SVG, no dependency.
 */
export function latencyChartSvg(points: readonly LatencyPoint[], title: string): string {
  const windows = [...new Set(points.map((point) => point.windowMs))].sort((a, b) => a - b);
  const rates = [...new Set(points.map((point) => point.rate))].sort((a, b) => a - b);
  const minRate = rates[0] ?? 100;
  const maxRate = rates[rates.length - 1] ?? 10_000;
  const yMaxData = Math.max(...points.map((point) => point.p99Ms), ...windows.map((window) => window + 500));
  const step = tickStep(yMaxData * 1.1);
  const yMax = Math.ceil((yMaxData * 1.1) / step) * step;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const logSpan = Math.log10(maxRate) - Math.log10(minRate) || 1;
  const x = (rate: number) => MARGIN.left + ((Math.log10(rate) - Math.log10(minRate)) / logSpan) * plotWidth;
  const y = (ms: number) => MARGIN.top + plotHeight - (ms / yMax) * plotHeight;
  const colorOf = (window: number, index: number) =>
    COLORS[window] ?? FALLBACK_COLORS[index % FALLBACK_COLORS.length] ?? '#000';

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="28" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let tick = 0; tick <= yMax; tick += step) {
    parts.push(
      `<line x1="${MARGIN.left}" y1="${y(tick)}" x2="${MARGIN.left + plotWidth}" y2="${y(tick)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(tick) + 4}" text-anchor="end">${tick}</text>`,
    );
  }
  for (const rate of rates) {
    parts.push(
      `<line x1="${x(rate)}" y1="${MARGIN.top}" x2="${x(rate)}" y2="${MARGIN.top + plotHeight}" stroke="#f0f0f0"/>`,
      `<text x="${x(rate)}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${rate.toLocaleString('en-US')}</text>`,
    );
  }
  parts.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotHeight}" x2="${MARGIN.left + plotWidth}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 14}" text-anchor="middle">producer rate, messages/s (log scale)</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">producer timestamp → row committed, ms</text>`,
  );

  let legendY = MARGIN.top + 6;
  const legendX = MARGIN.left + plotWidth + 20;
  windows.forEach((window, index) => {
    const color = colorOf(window, index);
    const series = points.filter((point) => point.windowMs === window).sort((a, b) => a.rate - b.rate);
    const target = window + 500;
    parts.push(
      `<line x1="${MARGIN.left}" y1="${y(target)}" x2="${MARGIN.left + plotWidth}" y2="${y(target)}" stroke="${color}" stroke-width="1" stroke-dasharray="2 4"/>`,
    );
    for (const [key, dash] of [
      ['p50Ms', ''],
      ['p99Ms', ' stroke-dasharray="7 4"'],
    ] as const) {
      const path = series.map((point) => `${x(point.rate).toFixed(1)},${y(point[key]).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
      for (const point of series) {
        parts.push(
          `<circle cx="${x(point.rate).toFixed(1)}" cy="${y(point[key]).toFixed(1)}" r="3.5" fill="${color}"><title>${point.rate} msg/s, ${window} ms window: ${key === 'p50Ms' ? 'p50' : 'p99'} ${point[key]} ms</title></circle>`,
        );
      }
    }
    const label = `${window / 1000} s window`;
    parts.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 26}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${legendX + 32}" y="${legendY + 4}">${label}, p50</text>`,
      `<line x1="${legendX}" y1="${legendY + 18}" x2="${legendX + 26}" y2="${legendY + 18}" stroke="${color}" stroke-width="2" stroke-dasharray="7 4"/>`,
      `<text x="${legendX + 32}" y="${legendY + 22}">${label}, p99</text>`,
      `<line x1="${legendX}" y1="${legendY + 36}" x2="${legendX + 26}" y2="${legendY + 36}" stroke="${color}" stroke-dasharray="2 4"/>`,
      `<text x="${legendX + 32}" y="${legendY + 40}">target ${target} ms</text>`,
    );
    legendY += 62;
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
