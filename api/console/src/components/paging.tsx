/** Keyset-paged lists (`limit` and `cursor` in, `nextCursor` out): the hook, the count, the button. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError } from '../api.ts';

export const PAGE_SIZE = 100;

/**
 * The rows of `path` matching `filters` (empty values left out): the first page whenever the filters
 * change, the next one on `more`. `noun` names the rows in the error shown when a page fails.
 */
export function usePages<T>(path: string, filters: Record<string, string>, noun: string) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const loadingRef = useRef(false);
  const filterQuery = new URLSearchParams(Object.entries(filters).filter(([, value]) => value)).toString();

  const load = useCallback(
    async (after: string | undefined) => {
      if (loadingRef.current) return;
      loadingRef.current = true;
      setLoading(true);
      try {
        const search = new URLSearchParams({ limit: String(PAGE_SIZE) });
        for (const [key, value] of new URLSearchParams(filterQuery)) search.set(key, value);
        if (after) search.set('cursor', after);
        const page = await api<{ items: T[]; nextCursor?: string }>(`${path}?${search.toString()}`);
        setItems((previous) => (after ? [...previous, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setDone(!page.nextCursor);
        setError(undefined);
      } catch (failure) {
        setError(`Could not list ${noun}: ${describeError(failure)}`);
      } finally {
        loadingRef.current = false;
        setLoading(false);
      }
    },
    [path, filterQuery, noun],
  );

  useEffect(() => void load(undefined), [load]);
  const more = useCallback(() => {
    if (cursor) void load(cursor);
  }, [cursor, load]);

  return { items, cursor, done, loading, error, setError, load, more };
}

/** How many rows are listed, in a polite live region; "so far" while more pages may follow. */
export function ListCount(props: { count: number; noun: string; loading: boolean; partial: boolean }) {
  const { count, noun, loading, partial } = props;
  return (
    <p class="count" role="status" aria-live="polite">
      {loading && count === 0
        ? 'Loading…'
        : `${count} ${noun}${count === 1 ? '' : 's'}${partial ? ' so far' : ''}`}
    </p>
  );
}

export function LoadMore({ loading, onClick }: { loading: boolean; onClick: () => void }) {
  return (
    <p>
      <button type="button" class="secondary" disabled={loading} onClick={onClick}>
        {loading ? 'Loading…' : `Load ${PAGE_SIZE} more`}
      </button>
    </p>
  );
}
