/**
 * The live overview: throughput, processing and end-to-end latency percentiles, consumer lag and
 * the outbox as charts that update every 2 s (from snapshots of GET /v1/operations/overview), and
 * the numbers an operator acts on first. Updates can be paused (WCAG 2.2.2).
 */
import { useMemo, useState } from 'preact/hooks';
import { api, describeError, type Overview } from '../api.ts';
import { Chart } from '../components/Chart.tsx';
import { Badge, ErrorNotice, PageTitle, usePolling } from '../components/bits.tsx';
import { duration, number } from '../lib/format.ts';
import { overviewSeries, rate } from '../lib/series.ts';

const INTERVAL_MS = 2_000;
const WINDOWS = [1, 5, 15] as const;
const KEEP = (Math.max(...WINDOWS) * 60_000) / INTERVAL_MS + 1;
const CIRCUIT = ['closed', 'half-open', 'open'];

export function OverviewView() {
  const [snapshots, setSnapshots] = useState<Overview[]>([]);
  const [paused, setPaused] = useState(false);
  const [minutes, setMinutes] = useState<number>(WINDOWS[0]);
  const windowMs = minutes * 60_000;
  const [error, setError] = useState<string | undefined>(undefined);

  usePolling(
    async () => {
      try {
        const snapshot = await api<Overview>('/v1/operations/overview');
        setError(undefined);
        setSnapshots((previous) => [...previous, snapshot].slice(-KEEP));
      } catch (failure) {
        setError(`Could not read the numbers: ${describeError(failure)}`);
      }
    },
    INTERVAL_MS,
    !paused,
  );

  const series = useMemo(() => overviewSeries(snapshots), [snapshots]);
  const latest = snapshots.at(-1);
  const previous = snapshots.at(-2);
  const seconds = latest && previous ? (latest.at - previous.at) / 1000 : 0;
  const published =
    latest && previous
      ? rate(
          previous.published.byTopic['order-events'] ?? 0,
          latest.published.byTopic['order-events'] ?? 0,
          seconds,
        )
      : null;
  const openDeadLetters = latest
    ? Object.values(latest.gauges.deadLettersOpen).reduce((sum, open) => sum + open, 0)
    : null;

  return (
    <>
      <div class="page-head">
        <PageTitle>Overview</PageTitle>
        <p class="field inline">
          <label for="window">Window</label>
          <select
            id="window"
            value={String(minutes)}
            onChange={(event) => setMinutes(Number(event.currentTarget.value))}
          >
            {WINDOWS.map((m) => (
              <option key={m} value={m}>
                last {m} min
              </option>
            ))}
          </select>
        </p>
        <button type="button" class="secondary" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume updates' : 'Pause updates'}
        </button>
      </div>
      <ErrorNotice error={error} />
      <p class="hint">
        Updated every {INTERVAL_MS / 1000} s while this page is open.{' '}
        {latest && `${latest.sources.length} process${latest.sources.length === 1 ? '' : 'es'} reporting.`}
      </p>
      <section aria-labelledby="now-heading">
        <h2 id="now-heading" class="sr-only">
          Now
        </h2>
        <dl class="tiles">
          <div>
            <dt>Events published</dt>
            <dd data-testid="published-rate">{number(published, 1)} /s</dd>
          </div>
          <div>
            <dt>Dead letters open</dt>
            <dd>
              <a href="#/dead-letters?status=open">{number(openDeadLetters)}</a>
            </dd>
          </div>
          <div>
            <dt>Outbox backlog</dt>
            <dd>
              {number(latest?.gauges.outboxBacklog)} {latest?.gauges.outboxBacklog === 1 ? 'row' : 'rows'}
              {latest?.gauges.outboxOldestAgeSeconds
                ? `, oldest ${duration(latest.gauges.outboxOldestAgeSeconds * 1000)}`
                : ''}
            </dd>
          </div>
          <div>
            <dt>Event store</dt>
            <dd>{number(latest?.gauges.eventStoreEvents)} events</dd>
          </div>
          <div>
            <dt>HTTP 5xx</dt>
            <dd>
              {number(latest?.http.serverErrors)} of {number(latest?.http.requests)}
            </dd>
          </div>
          <div>
            <dt>Circuits</dt>
            <dd>
              {latest && Object.keys(latest.gauges.circuits).length > 0
                ? Object.entries(latest.gauges.circuits).map(([provider, state]) => (
                    <span key={provider} class="circuit">
                      {provider}{' '}
                      <Badge
                        value={state === 0 ? 'ok' : state === 1 ? 'warning' : 'error'}
                        label={CIRCUIT[state] ?? String(state)}
                      />
                    </span>
                  ))
                : '–'}
            </dd>
          </div>
        </dl>
      </section>
      <section aria-labelledby="charts-heading" class="charts">
        <h2 id="charts-heading" class="sr-only">
          Charts
        </h2>
        <Chart
          id="chart-throughput"
          title="Throughput"
          unit="events/s"
          series={series.throughput}
          windowMs={windowMs}
        />
        <Chart
          id="chart-processing"
          title="Processing latency, all consumers"
          unit="ms"
          series={series.processing}
          windowMs={windowMs}
        />
        <Chart
          id="chart-end-to-end"
          title="Order accepted → completed"
          unit="ms"
          series={series.endToEnd}
          windowMs={windowMs}
        />
        <Chart
          id="chart-lag"
          title="Consumer lag (oldest unacked message)"
          unit="s"
          series={series.lag}
          windowMs={windowMs}
          digits={3}
        />
        <Chart
          id="chart-outbox"
          title="Outbox backlog"
          unit="rows"
          series={series.outbox}
          windowMs={windowMs}
          digits={0}
        />
      </section>
    </>
  );
}
