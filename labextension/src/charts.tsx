/**
 * Small inline SVG charts drawn with JupyterLab theme variables, so they follow the
 * light and dark themes. Each chart carries a text summary for screen readers.
 */

import React from 'react';

import { DayCount, formatDuration, Turnaround } from './model';

const STATUS_COLORS: Record<string, string> = {
  ok: 'var(--jp-success-color1)',
  pending: 'var(--jp-warn-color1)',
  blocked: 'var(--jp-error-color1)',
  rejected: 'var(--jp-error-color2)',
  withheld: 'var(--jp-warn-color0)',
  error: 'var(--jp-error-color0)'
};
const OTHER_COLOR = 'var(--jp-layout-color4)';
const WIDTH = 480;
const HEIGHT = 180;
const MARGIN = { top: 10, right: 10, bottom: 36, left: 36 };

export function statusColor(status: string): string {
  return STATUS_COLORS[status] ?? OTHER_COLOR;
}

interface StackedDay {
  day: string;
  parts: { status: string; count: number }[];
  total: number;
}

export function stackByDay(rows: DayCount[]): StackedDay[] {
  const days = new Map<string, Map<string, number>>();
  for (const row of rows) {
    const byStatus = days.get(row.day) ?? new Map<string, number>();
    byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + row.count);
    days.set(row.day, byStatus);
  }
  return [...days.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([day, byStatus]) => {
      const parts = [...byStatus.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([status, count]) => ({ status, count }));
      return { day, parts, total: parts.reduce((sum, part) => sum + part.count, 0) };
    });
}

export function ExecutionsPerDayChart(props: { rows: DayCount[] }): JSX.Element {
  const days = stackByDay(props.rows);
  if (days.length === 0) {
    return <p className="nbw-muted">No executions recorded yet.</p>;
  }
  const statuses = [...new Set(props.rows.map(row => row.status))].sort();
  const max = Math.max(...days.map(day => day.total), 1);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / days.length;
  const barWidth = Math.min(40, Math.max(2, slot * 0.7));
  const summary = days.map(day => `${day.day}: ${day.total}`).join(', ');
  return (
    <figure className="nbw-chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Executions per day by status. ${summary}`}
      >
        <line
          className="nbw-axis"
          x1={MARGIN.left}
          x2={WIDTH - MARGIN.right}
          y1={HEIGHT - MARGIN.bottom}
          y2={HEIGHT - MARGIN.bottom}
        />
        <text className="nbw-tick" x={MARGIN.left - 4} y={MARGIN.top + 8} textAnchor="end">
          {max}
        </text>
        {days.map((day, index) => {
          const x = MARGIN.left + index * slot + (slot - barWidth) / 2;
          let y = HEIGHT - MARGIN.bottom;
          return (
            <g key={day.day}>
              {day.parts.map(part => {
                const height = (part.count / max) * plotHeight;
                y -= height;
                return (
                  <rect
                    key={part.status}
                    x={x}
                    y={y}
                    width={barWidth}
                    height={height}
                    fill={statusColor(part.status)}
                  >
                    <title>{`${day.day} ${part.status}: ${part.count}`}</title>
                  </rect>
                );
              })}
              {(days.length <= 10 || index % Math.ceil(days.length / 10) === 0) && (
                <text
                  className="nbw-tick"
                  x={x + barWidth / 2}
                  y={HEIGHT - MARGIN.bottom + 14}
                  textAnchor="middle"
                >
                  {day.day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {statuses.map(status => (
          <span key={status} className="nbw-legend">
            <span className="nbw-swatch" style={{ background: statusColor(status) }} />
            {status}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

export function HorizontalBarChart(props: {
  values: Record<string, number>;
  label: string;
  format?: (value: number) => string;
}): JSX.Element {
  const format = props.format ?? ((value: number) => value.toLocaleString('en'));
  const entries = Object.entries(props.values)
    .filter(([, count]) => count > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  if (entries.length === 0) {
    return <p className="nbw-muted">Nothing masked yet.</p>;
  }
  const rowHeight = 22;
  const labelWidth = 150;
  const height = entries.length * rowHeight + 4;
  const max = Math.max(...entries.map(([, count]) => count));
  const barSpace = WIDTH - labelWidth - 60;
  const summary = entries.map(([name, count]) => `${name}: ${format(count)}`).join(', ');
  return (
    <figure className="nbw-chart">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`${props.label}. ${summary}`}>
        {entries.map(([name, count], index) => {
          const y = index * rowHeight + 2;
          const width = Math.max(1, (count / max) * barSpace);
          return (
            <g key={name}>
              <text className="nbw-tick" x={labelWidth - 6} y={y + 14} textAnchor="end">
                {name}
              </text>
              <rect
                x={labelWidth}
                y={y + 3}
                width={width}
                height={rowHeight - 6}
                fill="var(--jp-brand-color1)"
              />
              <text className="nbw-tick" x={labelWidth + width + 4} y={y + 14}>
                {format(count)}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export function TurnaroundChart(props: { turnaround: Turnaround }): JSX.Element {
  const { decided, median, max } = props.turnaround;
  if (decided === 0 || median === null) {
    return <p className="nbw-muted">No decided approvals yet.</p>;
  }
  const values: Record<string, number> = { median: median };
  if (max !== null) {
    values.longest = max;
  }
  return (
    <div>
      <p>
        {decided} decided approval{decided === 1 ? '' : 's'}: median {formatDuration(median)}
        {max !== null && `, longest ${formatDuration(max)}`}.
      </p>
      <HorizontalBarChart
        values={values}
        label="Approval turnaround, median and longest"
        format={formatDuration}
      />
    </div>
  );
}
