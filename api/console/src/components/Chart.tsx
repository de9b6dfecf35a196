/**
 * A line chart in SVG, drawn from series of points over time. Accessible as a figure: the caption
 * names it, the SVG has a text alternative with every series' latest value, and the legend (text,
 * not only colour) repeats those values. Colours keep 3:1 against the background (WCAG 1.4.11).
 */
import type { Series } from '../lib/series.ts';
import { number } from '../lib/format.ts';

export const COLORS = ['#1f5fbf', '#b3261e', '#1b7f3b', '#7a4cc2', '#9a5800', '#006d75', '#5c5c5c'];

const WIDTH = 560;
const HEIGHT = 180;
const PAD = { left: 44, right: 10, top: 10, bottom: 22 };

export interface ChartProps {
  id: string;
  title: string;
  unit: string;
  series: readonly Series[];
  /** The time window shown, ms (the x axis ends at the latest point). */
  windowMs: number;
  digits?: number;
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const steps = [1, 2, 2.5, 5, 10];
  const step = steps.find((s) => s * magnitude >= value) ?? 10;
  return step * magnitude;
}

/** An axis label: two significant digits below 1, one decimal where a half step needs it. */
function tick(value: number): string {
  if (value === 0) return '0';
  if (value < 1) return String(Number(value.toPrecision(2)));
  return number(value, Number.isInteger(value) ? 0 : 1);
}

export function Chart({ id, title, unit, series, windowMs, digits = 1 }: ChartProps) {
  const all = series.flatMap((s) => s.points);
  const end = all.reduce((latest, p) => Math.max(latest, p.t), 0) || Date.now();
  const start = end - windowMs;
  const values = all.filter((p) => p.t >= start && p.v !== null).map((p) => p.v!);
  const top = niceMax(Math.max(0, ...values));
  const x = (t: number) => PAD.left + ((t - start) / windowMs) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / top) * (HEIGHT - PAD.top - PAD.bottom);
  const latest = series.map((s) => {
    const last = [...s.points].reverse().find((p) => p.v !== null);
    return { name: s.name, value: last?.v ?? null };
  });
  const summary = `${title}: ${latest.map((l) => `${l.name} ${number(l.value, digits)} ${unit}`).join(', ') || 'no data yet'}`;
  const titleId = `${id}-title`;

  return (
    <figure class="chart" id={id} data-points={all.length}>
      <figcaption id={titleId}>
        {title} <span class="unit">({unit})</span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(top * f)} y2={y(top * f)} />
            <text class="tick" x={PAD.left - 6} y={y(top * f) + 4} text-anchor="end">
              {tick(top * f)}
            </text>
          </g>
        ))}
        <text class="tick" x={PAD.left} y={HEIGHT - 6}>
          −{Math.round(windowMs / 60_000)} min
        </text>
        <text class="tick" x={(PAD.left + WIDTH - PAD.right) / 2} y={HEIGHT - 6} text-anchor="middle">
          −{number(windowMs / 120_000, 1)} min
        </text>
        <text class="tick" x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor="end">
          now
        </text>
        {series.map((s, index) => {
          const visible = s.points.filter((p) => p.t >= start);
          let d = '';
          let pen = false;
          for (const p of visible) {
            if (p.v === null) {
              pen = false;
              continue;
            }
            d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
            pen = true;
          }
          return (
            <path
              key={s.name}
              d={d}
              class="line"
              stroke={COLORS[index % COLORS.length]}
              data-series={s.name}
              data-latest={latest[index]?.value ?? ''}
            />
          );
        })}
      </svg>
      <ul class="legend" aria-label={`${title}: latest values`}>
        {latest.map((l, index) => (
          <li key={l.name}>
            <span class="swatch" style={{ background: COLORS[index % COLORS.length] }} aria-hidden="true" />
            {l.name}: <strong>{number(l.value, digits)}</strong> {unit}
          </li>
        ))}
      </ul>
    </figure>
  );
}
