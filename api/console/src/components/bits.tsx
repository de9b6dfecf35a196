/** Small pieces every view uses: status badges, error notices, the page heading that takes focus. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

const TONE: Record<string, string> = {
  completed: 'ok',
  processed: 'ok',
  redriven: 'ok',
  ok: 'ok',
  succeeded: 'ok',
  cancelled: 'muted',
  discarded: 'muted',
  open: 'bad',
  failed: 'bad',
  error: 'bad',
  warning: 'warn',
  awaiting_approval: 'warn',
  running: 'info',
  pending: 'info',
};

/** A status as text in a coloured badge (the text carries the meaning, not the colour). */
export function Badge({ value, label }: { value: string; label?: string }) {
  return <span class={`badge ${TONE[value] ?? 'info'}`}>{label ?? value.replaceAll('_', ' ')}</span>;
}

export function ErrorNotice({ error }: { error: string | undefined }) {
  return error ? (
    <p class="notice error" role="alert">
      {error}
    </p>
  ) : null;
}

/** A polite live region for results of actions (redriven, discarded, started…). */
export function Status({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status" aria-live="polite">
      {children}
    </p>
  );
}

/** The page's h1, focused when the page opens so keyboard and screen reader users start there. */
export function PageTitle({ children }: { children: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus({ preventScroll: true }), []);
  return (
    <h1 ref={heading} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** Runs `tick` now and every `ms` while `active`, never overlapping; stops on unmount. */
export function usePolling(
  tick: () => Promise<unknown>,
  ms: number,
  active: boolean,
  deps: unknown[] = [],
): void {
  useEffect(() => {
    if (!active) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      await tick().catch(() => undefined);
      if (!stopped) timer = setTimeout(() => void run(), ms);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [active, ms, ...deps]);
}
