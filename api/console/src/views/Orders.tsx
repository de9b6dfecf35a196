/**
 * Orders: search by id (opens it), customer, status and creation time; newest first, keyset paged
 * 100 at a time as the table scrolls (the table renders only the rows in view).
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError, type Order } from '../api.ts';
import { Badge, ErrorNotice, PageTitle } from '../components/bits.tsx';
import { VirtualTable, type Column } from '../components/VirtualTable.tsx';
import { dateTime, fromLocalInput, money, toLocalInput } from '../lib/format.ts';
import { ORDER_STATUSES } from '../lib/constants.ts';
import { field } from '../lib/forms.ts';
import { href, navigate } from '../router.ts';

const PAGE = 100;
const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;

const COLUMNS: Column<Order>[] = [
  { key: 'created', header: 'Created', render: (o) => dateTime(o.createdAt) },
  {
    key: 'id',
    header: 'Order',
    className: 'mono',
    render: (o) => <a href={href(['orders', o.id])}>{o.id}</a>,
  },
  { key: 'customer', header: 'Customer', render: (o) => o.customerId },
  { key: 'status', header: 'Status', render: (o) => <Badge value={o.status} /> },
  { key: 'total', header: 'Total', className: 'num', render: (o) => money(o.totalMinor, o.currency) },
  { key: 'updated', header: 'Updated', render: (o) => dateTime(o.updatedAt) },
];

export function Orders({ query }: { query: URLSearchParams }) {
  const filters = {
    customerId: query.get('customerId') ?? '',
    status: query.get('status') ?? '',
    createdAfter: query.get('createdAfter') ?? '',
    createdBefore: query.get('createdBefore') ?? '',
  };
  const [orders, setOrders] = useState<Order[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const loadingRef = useRef(false);

  const load = useCallback(
    async (after: string | undefined) => {
      if (loadingRef.current) return;
      loadingRef.current = true;
      setLoading(true);
      try {
        const search = new URLSearchParams({ limit: String(PAGE) });
        for (const [key, value] of Object.entries(filters)) if (value) search.set(key, value);
        if (after) search.set('cursor', after);
        const page = await api<{ items: Order[]; nextCursor?: string }>(`/v1/orders?${search.toString()}`);
        setOrders((previous) => (after ? [...previous, ...page.items] : page.items));
        setCursor(page.nextCursor);
        setDone(!page.nextCursor);
        setError(undefined);
      } catch (failure) {
        setError(`Could not list orders: ${describeError(failure)}`);
      } finally {
        loadingRef.current = false;
        setLoading(false);
      }
    },
    [query.toString()],
  );

  useEffect(() => void load(undefined), [load]);
  const more = useCallback(() => {
    if (!done && cursor) void load(cursor);
  }, [done, cursor, load]);

  return (
    <>
      <PageTitle>Orders</PageTitle>
      <form
        class="filters"
        role="search"
        aria-label="Find orders"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const id = field(form, 'orderId');
          if (id) {
            if (UUID.test(id)) navigate(href(['orders', id.toLowerCase()]));
            else setError('An order id is a UUID, like 01a2b3c4-d5e6-7f80-9a1b-2c3d4e5f6a7b.');
            return;
          }
          navigate(
            href(['orders'], {
              customerId: field(form, 'customerId'),
              status: field(form, 'status'),
              createdAfter: fromLocalInput(field(form, 'createdAfter')),
              createdBefore: fromLocalInput(field(form, 'createdBefore')),
            }),
          );
        }}
      >
        <p class="field">
          <label for="order-id">Order id</label>
          <input id="order-id" name="orderId" type="search" class="mono" placeholder="opens the order" />
        </p>
        <p class="field">
          <label for="customer">Customer</label>
          <input id="customer" name="customerId" type="search" value={filters.customerId} />
        </p>
        <p class="field">
          <label for="status">Status</label>
          <select id="status" name="status" value={filters.status}>
            <option value="">any</option>
            {ORDER_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status.replaceAll('_', ' ')}
              </option>
            ))}
          </select>
        </p>
        <p class="field">
          <label for="created-after">Created from</label>
          <input
            id="created-after"
            name="createdAfter"
            type="datetime-local"
            value={toLocalInput(filters.createdAfter)}
          />
        </p>
        <p class="field">
          <label for="created-before">Created before</label>
          <input
            id="created-before"
            name="createdBefore"
            type="datetime-local"
            value={toLocalInput(filters.createdBefore)}
          />
        </p>
        <p class="field buttons">
          <button type="submit" class="primary">
            Search
          </button>
          <a class="button secondary" href="#/orders">
            Clear
          </a>
        </p>
      </form>
      <ErrorNotice error={error} />
      <p class="count" role="status" aria-live="polite">
        {loading && orders.length === 0
          ? 'Loading…'
          : `${orders.length} order${orders.length === 1 ? '' : 's'}${done ? '' : ' so far'}`}
      </p>
      <VirtualTable
        caption="Orders, newest first"
        rows={orders}
        columns={COLUMNS}
        rowKey={(o) => o.id}
        onEndReached={more}
      />
      {!done && (
        <p>
          <button type="button" class="secondary" disabled={loading} onClick={more}>
            {loading ? 'Loading…' : `Load ${PAGE} more`}
          </button>
        </p>
      )}
    </>
  );
}
