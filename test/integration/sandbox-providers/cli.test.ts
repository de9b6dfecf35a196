import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { startProcess } from '../../helpers/processes.ts';
import { startWebhookReceiver, waitFor } from './helpers.ts';

const SECRET = 'whsec_cli_test';

describe('sandbox providers CLI', () => {
  it('starts both sandboxes, sends signed webhooks, and stops cleanly on SIGTERM', async () => {
    const receiver = await startWebhookReceiver({ secrets: [SECRET] });
    const cli = startProcess(
      process.execPath,
      [
        'local/sandbox-providers/main.ts',
        '--payment-port',
        '0',
        '--shipping-port',
        '0',
        '--payment-webhook-url',
        receiver.url,
      ],
      { env: { ...process.env, SANDBOX_WEBHOOK_SECRET: SECRET } },
    );
    try {
      const [, paymentUrl] = await cli.waitFor(/Payment sandbox listening on (http:\/\/\S+)/);
      const [, shippingUrl] = await cli.waitFor(/Shipping sandbox listening on (http:\/\/\S+)/);
      assert.equal((await fetch(`${shippingUrl}/healthz`)).status, 200);
      const orderId = randomUUID();
      const charged = await fetch(`${paymentUrl}/v1/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': orderId },
        body: JSON.stringify({ orderId, amountMinor: 100, currency: 'EUR' }),
      });
      assert.equal(charged.status, 201);
      const [delivery] = await waitFor(
        'the payment webhook',
        () => receiver.deliveries.length > 0 && receiver.deliveries,
      );
      assert.ok(delivery?.verified, delivery?.verifyError);
    } finally {
      await cli.stop();
      await receiver.close();
    }
    assert.equal(cli.child.exitCode, 0, cli.output());
    assert.match(cli.output(), /SIGTERM: stopping the sandbox providers/);
  });

  it('refuses a bad fault value with a clear message', async () => {
    const cli = startProcess(process.execPath, ['local/sandbox-providers/main.ts', '--error-rate', '2']);
    await new Promise((resolve) => cli.child.once('exit', resolve));
    assert.notEqual(cli.child.exitCode, 0);
    assert.match(cli.output(), /--error-rate .* expected a number from 0 to 1/);
  });
});
