/**
 * Hash routes (#/orders, #/orders/<id>, …): the API serves one page at /console and deep links
 * survive reloads. Filters go in the hash's query; the API key never does.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { name: 'overview' }
  | { name: 'orders'; query: URLSearchParams }
  | { name: 'order'; id: string }
  | { name: 'trace'; id: string; span: string | undefined }
  | { name: 'dead-letters'; query: URLSearchParams }
  | { name: 'dead-letter'; id: string }
  | { name: 'replays' }
  | { name: 'not-found'; path: string };

export function parseHash(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?', 2);
  const query = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second] = parts;
  if (parts.length === 0 || (first === 'overview' && parts.length === 1)) return { name: 'overview' };
  if (first === 'orders' && parts.length === 1) return { name: 'orders', query };
  if (first === 'orders' && second && parts.length === 2) return { name: 'order', id: second };
  if (first === 'traces' && second && parts.length === 2)
    return { name: 'trace', id: second, span: query.get('span') ?? undefined };
  if (first === 'dead-letters' && parts.length === 1) return { name: 'dead-letters', query };
  if (first === 'dead-letters' && second && parts.length === 2) return { name: 'dead-letter', id: second };
  if (first === 'replays' && parts.length === 1) return { name: 'replays' };
  return { name: 'not-found', path };
}

/** `#/<parts…>?<query>`, with empty query values left out. */
export function href(parts: readonly string[], query: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) search.set(key, value);
  const text = search.toString();
  return `#/${parts.map(encodeURIComponent).join('/')}${text ? `?${text}` : ''}`;
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
