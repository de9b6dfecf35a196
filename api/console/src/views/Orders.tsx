/**
 * Orders: search by id (opens it), customer, status and creation time; newest first, keyset paged
 * 100 at a time as the table scrolls (the table renders only the rows in view).
 */
import type { Order } from '../api.ts';
import { Badge, ErrorNotice, PageTitle } from '../components/bits.tsx';
import { ListCount, LoadMore, usePages } from '../components/paging.tsx';
import { VirtualTable, type Column } from '../components/VirtualTable.tsx';
import { dateTime, fromLocalInput, money, toLocalInput } from '../lib/format.ts';
import { ORDER_STATUSES } from '../lib/constants.ts';
import { field } from '../lib/forms.ts';
import { href, navigate } from '../router.ts';

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
  const {
    items: orders,
    done,
    loading,
    error,
    setError,
    more,
  } = usePages<Order>('/v1/orders', filters, 'orders');

  return (
    <>
      <PageTitle>Orders</PageTitle>
      {/* The fields start from the URL's filters and are then the user's: a controlled value would be
          written back over what they type whenever the list re-renders (the view is keyed by its
          query, so a search remounts it with the new filters). */}
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
          <input id="customer" name="customerId" type="search" defaultValue={filters.customerId} />
        </p>
        <p class="field">
          <label for="status">Status</label>
          <select id="status" name="status">
            <option value="">any</option>
            {ORDER_STATUSES.map((status) => (
              <option key={status} value={status} selected={status === filters.status}>
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
            defaultValue={toLocalInput(filters.createdAfter)}
          />
        </p>
        <p class="field">
          <label for="created-before">Created before</label>
          <input
            id="created-before"
            name="createdBefore"
            type="datetime-local"
            defaultValue={toLocalInput(filters.createdBefore)}
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
      <ListCount count={orders.length} noun="order" loading={loading} partial={!done} />
      <VirtualTable
        caption="Orders, newest first"
        rows={orders}
        columns={COLUMNS}
        rowKey={(o) => o.id}
        onEndReached={more}
      />
      {!done && <LoadMore loading={loading} onClick={more} />}
    </>
  );
}
