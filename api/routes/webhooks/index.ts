/**
 * /v1/webhooks/payments and /v1/webhooks/shipping: signed provider webhooks. No API key; the
 * signature is the authentication: HMAC-SHA256 over the timestamp and the raw body, compared in
 * constant time, 5 minutes of tolerance (shared/webhooks). The raw body is kept for these routes
 * only (their own JSON parser, encapsulated in this plugin). A bad signature, a stale timestamp or
 * a malformed body is a 4xx problem and changes nothing; an accepted event becomes domain events
 * through the outbox, once per provider event id (see record.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import { issuesOf } from '#shared/contracts/events/index.ts';
import {
  paymentWebhookCommand,
  PaymentWebhookSchema,
  shippingWebhookCommand,
  ShippingWebhookSchema,
} from '#shared/providers/webhooks.ts';
import type { WebhookProvider } from '#shared/store/webhook-events.ts';
import { outsideTrace } from '#shared/telemetry/context.ts';
import {
  createWebhookVerifier,
  MalformedSignatureHeaderError,
  SIGNATURE_HEADER,
  StaleTimestampError,
  WebhookSignatureError,
  type WebhookVerifier,
} from '#shared/webhooks/index.ts';
import { problems } from '../../http.ts';
import { tagRequest, traceparentOf } from '../../plugins/request-context.ts';
import { HttpProblem } from '../../problems.ts';
import { recordWebhook, type WebhookFact } from './record.ts';

/** The signing secrets of each provider; several during a rotation. */
export interface WebhookSecrets {
  payment: readonly string[];
  shipping: readonly string[];
}

export interface WebhookRoutesOptions {
  /** Absent or empty: the routes answer 503 (not configured), so providers retry later. */
  secrets?: Partial<WebhookSecrets> | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body exactly as received (webhook routes only). */
    rawBody: Buffer | undefined;
  }
}

const AcceptedSchema = z
  .object({
    received: z.string().describe('The provider event id.'),
    outcome: z
      .enum(['recorded', 'unchanged', 'unrecorded_effect', 'ignored', 'duplicate'])
      .describe(
        'recorded: new order events; unchanged: already known; duplicate: this event id was processed ' +
          'before; unrecorded_effect: kept for compensation; ignored: nothing to do.',
      ),
  })
  .meta({ id: 'WebhookAccepted' });

const WEBHOOK_PROBLEMS = problems(400, 401, 404, 409, 413, 415, 422, 500, 503);

interface Provider {
  name: WebhookProvider;
  path: string;
  schema: ZodType;
  fact(body: never): WebhookFact;
}

const PROVIDERS: Provider[] = [
  {
    name: 'payment',
    path: '/v1/webhooks/payments',
    schema: PaymentWebhookSchema,
    fact: (webhook: z.infer<typeof PaymentWebhookSchema>) => ({
      ...paymentWebhookCommand(webhook),
      provider: 'payment',
      type: webhook.type,
      effect: {
        reference: webhook.data.paymentId,
        kind: 'charge',
        amountMinor: webhook.data.amountMinor,
        currency: webhook.data.currency,
      },
    }),
  },
  {
    name: 'shipping',
    path: '/v1/webhooks/shipping',
    schema: ShippingWebhookSchema,
    fact: (webhook: z.infer<typeof ShippingWebhookSchema>) => ({
      ...shippingWebhookCommand(webhook),
      provider: 'shipping',
      type: webhook.type,
      effect: { reference: webhook.data.shipmentId, kind: 'shipment' },
    }),
  },
];

export const webhookRoutes: FastifyPluginCallbackZod<WebhookRoutesOptions> = (app, options, done) => {
  const { services } = app;
  const clock = () => services.clock().getTime();

  app.decorateRequest('rawBody', undefined);
  // This plugin's own parser (encapsulated: the other routes keep Fastify's): the signature covers
  // the exact bytes, so the body is kept raw and parsed only after it is verified.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, parsed) => {
    request.rawBody = body as Buffer;
    parsed(null, undefined);
  });

  for (const provider of PROVIDERS) {
    const secrets = options.secrets?.[provider.name] ?? [];
    const verifier: WebhookVerifier | undefined =
      secrets.length > 0 ? createWebhookVerifier({ secrets, clock }) : undefined;
    app.post(
      provider.path,
      {
        config: { public: true },
        schema: {
          tags: ['webhooks'],
          summary: `Receive a ${provider.name} provider webhook`,
          description:
            `Signed with ${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">. ` +
            '200 when processed (also for a duplicate event id); 409 when it reports a step the order has not ' +
            'recorded yet (send it again later); 4xx problems change nothing.',
          response: { 200: AcceptedSchema, ...WEBHOOK_PROBLEMS },
        },
      },
      (request, reply) => receive(provider, verifier, request, reply),
    );
  }

  async function receive(
    provider: Provider,
    verifier: WebhookVerifier | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    if (!verifier) {
      throw new HttpProblem(503, 'unavailable', `${provider.name} webhooks are not configured here`, {
        headers: { 'retry-after': '60' },
      });
    }
    const raw = request.rawBody ?? Buffer.alloc(0);
    const header = request.headers[SIGNATURE_HEADER.toLowerCase()];
    try {
      verifier.verify(Array.isArray(header) ? header[0] : header, raw);
    } catch (error) {
      if (error instanceof WebhookSignatureError) throw signatureProblem(error);
      throw error;
    }
    const body = parseJson(raw);
    const parsed = provider.schema.safeParse(body);
    if (!parsed.success) {
      throw new HttpProblem(400, 'invalid-webhook', `not a ${provider.name} webhook this API understands`, {
        title: 'Invalid webhook',
        errors: issuesOf(parsed.error, 'body'),
      });
    }
    const fact = provider.fact(parsed.data as never);
    tagRequest(request, { orderId: fact.orderId });
    const result = await recordWebhook(services.pool, services.commands, fact, {
      causationId: `webhook:${provider.name}:${fact.providerEventId}`,
      traceparent: traceparentOf(request),
    });
    // The relay's cycle serves many requests: it runs outside this one's trace.
    if (result.events.length > 0) outsideTrace(() => services.relay.trigger(result.events.length));
    request.log.debug({ provider: provider.name, eventId: fact.providerEventId, ...result }, 'webhook');
    return reply.code(200).send({ received: fact.providerEventId, outcome: result.outcome });
  }

  done();
};

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new HttpProblem(400, 'invalid-webhook', 'the body is not JSON', { title: 'Invalid webhook' });
  }
}

function signatureProblem(error: WebhookSignatureError): HttpProblem {
  if (error instanceof MalformedSignatureHeaderError) {
    return new HttpProblem(400, 'invalid-signature', error.message, { title: 'Invalid signature' });
  }
  if (error instanceof StaleTimestampError) {
    return new HttpProblem(401, 'stale-signature', error.message, { title: 'Stale signature' });
  }
  return new HttpProblem(401, 'invalid-signature', error.message, { title: 'Invalid signature' });
}
