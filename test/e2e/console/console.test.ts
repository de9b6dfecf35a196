/**
 * The operations console in a real browser (Debian's Chromium through playwright-core) against the
 * local stack in process: sign in, watch the charts move, find an order and open its timeline and
 * trace, redrive dead letters (one, then in bulk) and see their orders complete, start a replay,
 * move through a thousand orders. Every view is checked with axe-core (WCAG 2.x A/AA).
 *
 * CONSOLE_SCREENSHOTS=1 writes the README's screenshots to docs/screenshots/.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { CONSOLE_CSP } from '../../../api/plugins/console.ts';
import {
  axeViolations,
  CHROMIUM_MISSING,
  dataKinds,
  describeViolations,
  focusedRow,
  isFocused,
  launchBrowser,
  scrollTo,
  type TestBrowser,
} from '../../helpers/browser.ts';
import { STACK_ADDRESS, startStack, type Stack } from '../../helpers/stack.ts';
import { waitUntil } from '../../helpers/wait.ts';

const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS
  ? path.resolve(import.meta.dirname, '../../../docs/screenshots')
  : undefined;

describe('operations console in Chromium', { skip: CHROMIUM_MISSING }, () => {
  let stack: Stack;
  let browser: TestBrowser;
  let page: Page;
  let base: string;
  /** What the browser reported breaking the page's CSP, or failing in it. */
  const problems: string[] = [];

  before(async () => {
    stack = await startStack({ functions: ['saga', 'dead-letter'], console: true });
    base = `${stack.api.url}/console/`;
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
        problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await stack?.stop();
  });

  const go = async (hash: string) => {
    await page.goto(`${base}${hash}`);
    await page.locator('main h1').first().waitFor();
  };
  const accessible = async (what: string) => {
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], `${what}: axe found\n${describeViolations(violations)}`);
  };
  const screenshot = async (name: string) => {
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: false });
  };
  const completedOrder = async (customerId: string) => {
    const orderId = await stack.placeOrder(
      [
        { sku: 'BOOK-1', quantity: 2 },
        { sku: 'LAMP-1', quantity: 1 },
      ],
      { customerId },
    );
    await stack.waitForOrder(orderId, 'completed');
    return orderId;
  };

  it('is served with a strict content security policy', async () => {
    const answer = await fetch(base);
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(answer.headers.get('content-security-policy'), CONSOLE_CSP);
    const redirect = await fetch(`${stack.api.url}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/console/');
    const html = await answer.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    const asset = await fetch(`${stack.api.url}${script}`);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${stack.api.url}/console/assets/nothing.js`)).status, 404);
  });

  it('signs in with an admin key kept in sessionStorage, never in the URL; refuses others', async () => {
    await page.goto(base);
    await page.getByRole('heading', { name: 'Conveyor operations' }).waitFor();
    await accessible('sign-in');
    await screenshot('sign-in');
    const keyField = page.getByLabel('Admin API key');
    await keyField.fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /Sign-in failed/ })
      .waitFor();
    await keyField.fill(stack.api.keys.writer);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: /lacks the admin scope/ })
      .waitFor();

    const requests: { url: string; authorization: string | undefined }[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/v1/'))
        requests.push({ url: request.url(), authorization: request.headers().authorization });
    });
    await keyField.fill(stack.api.keys.admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByText('Signed in as').waitFor();
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem('conveyor.console.apiKey')),
      stack.api.keys.admin,
    );
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await waitUntil(() => requests.length > 0, { what: 'an API call' });
    for (const request of requests) {
      assert.equal(request.authorization, `Bearer ${stack.api.keys.admin}`);
      assert.ok(!request.url.includes(stack.api.keys.admin), request.url);
    }
    assert.ok(!page.url().includes(stack.api.keys.admin));
    // A reload keeps the session (same tab).
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  });

  it('shows the overview, and its charts move as orders flow', async () => {
    await go('#/overview');
    const throughput = page.locator('#chart-throughput path[data-series="published"]');
    const endToEnd = page.locator('#chart-end-to-end path[data-series="p50"]');
    // Orders keep flowing while the page polls: events published, orders completed.
    let flowing = true;
    const traffic = (async () => {
      while (flowing) await completedOrder('overview-customer');
    })();
    try {
      // A line of several points whose latest rate is not zero…
      await waitUntil(
        async () =>
          Number((await throughput.getAttribute('data-latest')) || 0) > 0 &&
          /^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+)+$/.test((await throughput.getAttribute('d')) ?? ''),
        { timeoutMs: 30_000, intervalMs: 250, what: 'the throughput chart to draw events published' },
      );
      await waitUntil(async () => Number((await endToEnd.getAttribute('data-latest')) || 0) > 0, {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: 'the end-to-end latency chart to show completed orders',
      });
      // …and that keeps moving: the next snapshots redraw it.
      const drawn = await throughput.getAttribute('d');
      await waitUntil(async () => (await throughput.getAttribute('d')) !== drawn, {
        timeoutMs: 10_000,
        intervalMs: 250,
        what: 'the throughput chart to be redrawn',
      });
      // For the README: half a minute of history on the charts.
      if (SCREENSHOTS) await new Promise((resolve) => setTimeout(resolve, 30_000));
    } finally {
      flowing = false;
      await traffic;
    }
    await page.getByRole('button', { name: 'Pause updates' }).click();
    await page.getByRole('button', { name: 'Resume updates' }).waitFor();
    assert.equal(
      await page.getByRole('button', { name: 'Resume updates' }).getAttribute('aria-pressed'),
      'true',
    );
    await accessible('overview');
    await screenshot('overview');
    await page.getByRole('button', { name: 'Resume updates' }).click();
  });

  it("finds an order by customer and by id, opens its timeline and its trace's span tree", async () => {
    const customerId = `console-${randomUUID().slice(0, 8)}`;
    const orderId = await completedOrder(customerId);

    await go('#/orders');
    await page.getByLabel('Customer').fill(customerId);
    await page.getByLabel('Status').selectOption('completed');
    await page.getByRole('button', { name: 'Search' }).click();
    const link = page.getByRole('link', { name: orderId, exact: true });
    await link.waitFor();
    assert.match(page.url(), new RegExp(`customerId=${customerId}`));
    await accessible('orders');
    if (SCREENSHOTS) {
      // The screenshot shows a list: every order so far.
      await go('#/orders');
      await page.getByRole('link', { name: orderId, exact: true }).waitFor();
      await screenshot('orders');
    }

    await page.getByLabel('Order id').fill(orderId);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('heading', { name: new RegExp(`Order ${orderId}`) }).waitFor();
    await page.getByTestId('order-status').getByText('completed').waitFor();
    const timeline = page.getByRole('list', { name: 'Timeline, oldest first' });
    for (const text of [
      'order.created.v1',
      'saga: order.created → inventory.reserved',
      'POST payment (payment)',
      'payment webhook payment.succeeded',
      'shipping webhook shipment.delivered',
      'order.completed.v1',
    ])
      await timeline.getByText(text, { exact: true }).first().waitFor();
    await accessible('order timeline');
    await screenshot('order-timeline');

    // Keep only provider calls: the filter is a labelled checkbox group.
    for (const label of ['Events', 'Saga steps', 'Webhooks', 'Other consumers', 'Failures', 'Dead letters'])
      await page.getByLabel(label).uncheck();
    assert.deepEqual([...new Set(await dataKinds(timeline.locator('li')))], ['provider-call']);
    await page.getByLabel('Events').check();

    await timeline.locator('li[data-kind="event"]').first().getByRole('link', { name: 'Trace' }).click();
    await page.getByRole('heading', { name: /^Trace / }).waitFor();
    const tree = page.getByRole('list', { name: 'Spans, each under its parent' });
    await tree.getByText('POST /v1/orders', { exact: true }).waitFor();
    await tree.getByText('process order.completed.v1', { exact: true }).waitFor();
    // The tree nests: the saga's delivery of order.created is inside the request's list item.
    const root = tree.locator(':scope > li').first();
    assert.equal(await root.locator('summary strong').first().textContent(), 'POST /v1/orders');
    await root.getByText('process order.created.v1', { exact: true }).waitFor();
    await root.locator('summary').first().click();
    await root
      .getByRole('row', { name: /http.route/ })
      .first()
      .waitFor();
    await accessible('trace');
    await screenshot('trace');
  });

  it('redrives one dead letter after a confirmation, and its order completes', async () => {
    const claimed = stack.faults.poisonNext('charge');
    const placing = stack.placeOrder([{ sku: 'PEN-1', quantity: 1 }], { customerId: 'dead-letter-customer' });
    const orderId = await claimed;
    assert.equal(await placing, orderId);
    await deadLetterOf(orderId);
    stack.faults.cure(orderId);

    await go(`#/dead-letters?orderId=${orderId}`);
    const row = page.getByRole('row', { name: /inventory\.reserved\.v1/ });
    await row.waitFor();
    await accessible('dead letters');
    await row.getByRole('link', { name: /^Dead letter / }).click();
    await page.getByRole('heading', { name: 'Dead letter', level: 1 }).waitFor();
    await page.getByText('injected permanent failure of charge').first().waitFor();
    await page.getByLabel('Payload').getByText(`"subject": "${orderId}"`).waitFor();
    await accessible('dead letter');
    await screenshot('dead-letter');

    const redrive = page.getByRole('button', { name: 'Redrive…' });
    await redrive.click();
    const dialog = page.getByRole('dialog', { name: 'Redrive this dead letter' });
    await dialog.waitFor();
    await accessible('redrive dialog');
    // Escape cancels and gives focus back to the button that opened it.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await isFocused(redrive), true);
    await redrive.click();
    await dialog.getByLabel(/What was fixed/).fill('the card works again');
    await dialog.getByRole('button', { name: 'Redrive' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Redriven: republished as message/ })
      .waitFor();
    await page.getByTestId('dead-letter-status').getByText('redriven').waitFor();

    await page.getByRole('link', { name: orderId }).click();
    await page.getByTestId('order-status').getByText('completed').waitFor({ timeout: 30_000 });
    await page
      .getByRole('list', { name: 'Timeline, oldest first' })
      .getByText('dead letter from saga (redriven)')
      .waitFor();
  });

  it('redrives every matching dead letter at once, after a confirmation dialog', async () => {
    const orders: string[] = [];
    for (let i = 0; i < 2; i++) {
      const claimed = stack.faults.poisonNext('charge');
      await stack.placeOrder([{ sku: 'BOOK-1', quantity: 1 }], { customerId: 'bulk-customer' });
      orders.push(await claimed);
      await deadLetterOf(orders.at(-1)!);
    }
    for (const orderId of orders) stack.faults.cure(orderId);

    await go('#/dead-letters?status=open&subscription=saga');
    for (const orderId of orders) await page.getByRole('link', { name: orderId, exact: true }).waitFor();
    const bulk = page.getByRole('button', { name: 'Redrive all matching…' });
    await bulk.click();
    const dialog = page.getByRole('dialog', { name: 'Redrive dead letters' });
    await dialog.getByText('subscription saga').waitFor();
    await screenshot('bulk-redrive');
    await dialog.getByRole('button', { name: 'Redrive' }).click();
    await page.getByRole('status').filter({ hasText: 'Redriven 2.' }).waitFor();
    for (const orderId of orders) await stack.waitForOrder(orderId, 'completed');
    await page.getByText('0 dead letters').waitFor();
  });

  it('starts a replay and follows it to the end', async () => {
    await go('#/replays');
    await page.getByLabel('Consumer').selectOption('saga');
    await page.getByRole('button', { name: 'Start replay' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /Replay .* to saga started/ })
      .waitFor();
    const row = page.locator('tr[data-replay]').first();
    await row.getByText('completed').waitFor({ timeout: 60_000 });
    assert.match((await row.textContent()) ?? '', /100(\.0)? %/);
    await accessible('replays');
    await screenshot('replays');
  });

  it('moves through a thousand orders: paged as it scrolls, only the rows in view rendered, arrow keys', async () => {
    const customerId = `bulk-${randomUUID().slice(0, 8)}`;
    await seedOrders(stack, customerId, 1_000);
    await go(`#/orders?customerId=${customerId}`);
    const scroller = page.getByRole('region', { name: 'Orders, newest first (scrollable)' });
    await page.getByText('100 orders so far').waitFor();
    const started = Date.now();
    // Each scroll to the end asks for the next page.
    await waitUntil(
      async () => {
        await scrollTo(scroller, 'end');
        return (await page.getByText('1000 orders', { exact: true }).count()) === 1;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'a thousand orders loaded' },
    );
    const rendered = await scroller.locator('tbody tr:not(.spacer)').count();
    assert.ok(rendered < 80, `${rendered} rows in the DOM for 1000 orders`);
    assert.equal(await scroller.locator('table').getAttribute('aria-rowcount'), '1001');
    console.log(
      `# 1000 orders paged in through the table in ${Date.now() - started} ms; ${rendered} rows rendered`,
    );

    // Keyboard: from the first row, arrows move row by row; End jumps to the last order.
    await scrollTo(scroller, 'top');
    const firstLink = scroller.locator('tbody tr[data-index="0"] a');
    await firstLink.focus();
    await page.keyboard.press('ArrowDown');
    await waitUntil(async () => (await focusedRow(page)) === '1', { what: 'focus on the second row' });
    await page.keyboard.press('End');
    await waitUntil(async () => (await focusedRow(page)) === '999', { what: 'focus on the last row' });
    await accessible('a thousand orders');
  });

  // Last: node:test runs a suite's tests in order.
  it('ran every page under its CSP without a violation or a script error', () => {
    // Refused keys and missing resources are answers the pages handle, not errors of theirs.
    const unexpected = problems.filter(
      (problem) =>
        !/Failed to load resource: the server responded with a status of (401|403|404)/.test(problem),
    );
    assert.deepEqual(unexpected, []);
  });

  /** Waits for the dead letter the saga left for `orderId` (stored by the dead-letter function). */
  async function deadLetterOf(orderId: string): Promise<void> {
    await waitUntil(
      async () =>
        (
          await stack.pool.query(`SELECT 1 FROM dead_letters WHERE order_id = $1 AND status = 'open'`, [
            orderId,
          ])
        ).rowCount === 1,
      { timeoutMs: 30_000, what: `the dead letter of ${orderId}` },
    );
  }
});

/** `count` orders of one customer written straight into the orders table (the list reads only it). */
async function seedOrders(stack: Stack, customerId: string, count: number): Promise<void> {
  await stack.pool.query(
    `INSERT INTO orders (id, customer_id, status, currency, total_minor, shipping_address, state, version, created_at, updated_at)
     SELECT id, $1::text, 'completed', 'EUR', 1250, $2::jsonb,
            jsonb_build_object(
              'id', id, 'status', 'completed', 'version', 8, 'customerId', $1::text, 'currency', 'EUR',
              'lines', jsonb_build_array(jsonb_build_object('sku', 'BOOK-1', 'quantity', 1, 'unitPriceMinor', 1250)),
              'totalMinor', 1250, 'shippingAddress', $2::jsonb, 'channel', 'api',
              'createdAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'updatedAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'completedAt', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
              'refundedMinor', 0),
            8, at, at
       FROM (SELECT gen_random_uuid() AS id, now() - make_interval(secs => n) AS at
               FROM generate_series(1, $3::int) AS n) seeded`,
    [customerId, JSON.stringify(STACK_ADDRESS), count],
  );
}
