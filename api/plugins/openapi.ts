/**
 * OpenAPI 3.1 generated from the routes' zod schemas (the same ones that validate requests), served
 * at /openapi.json, with Swagger UI at /docs from the package's own assets (no CDN at run time).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

const DESCRIPTION = `Conveyor's order API. Every state change is recorded as an event and published
to Pub/Sub (topic order-events, ordering key = order id) after commit.

Authentication: \`Authorization: Bearer <api key>\`; keys carry scopes (orders:read, orders:write,
admin; admin implies the others). Rate limits apply per key (429 with Retry-After).

Errors are RFC 9457 problem details (\`application/problem+json\`); \`type\` is a stable URN
(\`urn:problem-type:conveyor:<kind>\`) and validation problems list the failing fields in \`errors\`.

POST /v1/orders requires an \`Idempotency-Key\`: repeating a request with the same key replays the
first response byte for byte (header \`Idempotent-Replayed: true\`); the same key with a different
body is refused (422). Keys are scoped per API key and remembered for 24 hours.

Order resources carry an ETag (their version); state-changing order routes honour If-Match (412).`;

export async function openApi(app: FastifyInstance): Promise<void> {
  // The docs page and its assets need no API key.
  app.addHook('onRoute', (route) => {
    if (route.url === '/docs' || route.url.startsWith('/docs/'))
      route.config = { ...route.config, public: true };
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Conveyor API', version: '1.0.0', description: DESCRIPTION },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key' } },
      },
      security: [{ apiKey: [] }],
      tags: [
        { name: 'orders', description: 'Place, read and change orders' },
        { name: 'catalogue', description: 'What can be ordered, at which price (operators)' },
        { name: 'inventory', description: 'Stock per SKU (operators)' },
        { name: 'webhooks', description: 'Signed outcomes from the payment and shipping providers' },
        {
          name: 'dead-letters',
          description: 'Messages no consumer could process: inspect, redrive, discard (operators)',
        },
        {
          name: 'replays',
          description: 'Republish history from the event store to one consumer (operators)',
        },
        {
          name: 'operations',
          description:
            "What the operations console reads: an order's timeline, traces, live numbers (operators)",
        },
        { name: 'health', description: 'Probes' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // Served over plain HTTP locally: upgrading the assets' requests to HTTPS would break the page.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;/, ''),
    uiConfig: { deepLinking: true, defaultModelsExpandDepth: 1 },
    uiHooks: {},
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, () => app.swagger());
}
