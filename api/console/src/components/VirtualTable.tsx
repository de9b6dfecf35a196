/**
 * A table that renders only the rows in view (plus a margin), so a page of thousands of rows
 * stays fast: fixed row height, spacer rows above and below, native table semantics with
 * aria-rowcount/aria-rowindex so assistive technology knows the real size. Arrow keys move between
 * rows (focusing the row's first link or button), Home/End jump to the ends; the table scrolls to
 * keep the focused row in view. Reaching the end asks for more (onEndReached).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface Column<T> {
  key: string;
  header: string;
  render: (row: T) => ComponentChildren;
  /** Class of the cells; `num` also right-aligns the header. */
  className?: string;
}

export interface VirtualTableProps<T> {
  caption: string;
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string;
  rowHeight?: number;
  /** Height of the scrolling area, CSS. */
  height?: string;
  onEndReached?: () => void;
}

const OVERSCAN = 8;

export function VirtualTable<T>({
  caption,
  rows,
  columns,
  rowKey,
  rowHeight = 36,
  height = 'min(60vh, 640px)',
  onEndReached,
}: VirtualTableProps<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [focusIndex, setFocusIndex] = useState<number | undefined>(undefined);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setViewport(element.clientHeight));
    observer.observe(element);
    setViewport(element.clientHeight);
    return () => observer.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewport) / rowHeight) + OVERSCAN);
  const visible = rows.slice(first, last);

  useEffect(() => {
    if (onEndReached && rows.length > 0 && last >= rows.length - OVERSCAN) onEndReached();
  }, [last, rows.length, onEndReached]);

  useEffect(() => {
    if (focusIndex === undefined) return;
    const row = scroller.current?.querySelector<HTMLElement>(`tr[data-index="${focusIndex}"]`);
    const target = row?.querySelector<HTMLElement>('a, button, input') ?? row;
    if (target) {
      target.focus({ preventScroll: true });
      setFocusIndex(undefined);
    }
  });

  const moveTo = (index: number) => {
    const element = scroller.current;
    if (!element || rows.length === 0) return;
    const target = Math.max(0, Math.min(rows.length - 1, index));
    const headerHeight = element.querySelector('thead')?.clientHeight ?? 0;
    const top = target * rowHeight;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + rowHeight > element.scrollTop + element.clientHeight - headerHeight)
      element.scrollTop = top + rowHeight - element.clientHeight + headerHeight;
    setScrollTop(element.scrollTop);
    setFocusIndex(target);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const row = (event.target as HTMLElement).closest('tr[data-index]');
    if (!row) return;
    const index = Number(row.getAttribute('data-index'));
    const page = Math.max(1, Math.floor(viewport / rowHeight) - 1);
    const moves: Record<string, number> = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + page,
      PageUp: index - page,
      Home: 0,
      End: rows.length - 1,
    };
    const next = moves[event.key];
    if (next === undefined) return;
    event.preventDefault();
    moveTo(next);
  };

  return (
    <div
      class="table-scroll"
      ref={scroller}
      style={{ maxHeight: height }}
      onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}
      tabIndex={0}
      role="region"
      aria-label={`${caption} (scrollable)`}
    >
      <table aria-rowcount={rows.length + 1}>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr aria-rowindex={1}>
            {columns.map((column) => (
              <th key={column.key} scope="col" class={column.className === 'num' ? 'num' : undefined}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody onKeyDown={onKeyDown}>
          {first > 0 && (
            <tr class="spacer" aria-hidden="true">
              <td colSpan={columns.length} style={{ height: `${first * rowHeight}px` }} />
            </tr>
          )}
          {visible.map((row, offset) => (
            <tr
              key={rowKey(row)}
              data-index={first + offset}
              aria-rowindex={first + offset + 2}
              style={{ height: `${rowHeight}px` }}
            >
              {columns.map((column) => (
                <td key={column.key} class={column.className}>
                  {column.render(row)}
                </td>
              ))}
            </tr>
          ))}
          {last < rows.length && (
            <tr class="spacer" aria-hidden="true">
              <td colSpan={columns.length} style={{ height: `${(rows.length - last) * rowHeight}px` }} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
