/** The operations API's shapes: the console's session, an order's timeline, traces and spans. */
import { z } from 'zod';
import { OrderIdSchema } from '#shared/contracts/values.ts';
import { OrderSchema } from '../orders/schemas.ts';
import { TimelineEntrySchema } from './timeline.ts';

export const SessionSchema = z
  .object({
    client: z.string().describe('The API key (name) the console signed in with.'),
    scopes: z.array(z.string()),
    projectId: z.string(),
    traces: z
      .enum(['here', 'elsewhere'])
      .describe(
        'here: spans are kept by this API (GET /v1/operations/traces); elsewhere: Cloud Trace or OTLP.',
      ),
  })
  .meta({ id: 'ConsoleSession' });

const AttributeValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).readonly(),
]);
const Attributes = z.record(z.string(), AttributeValue);

export const SpanSchema = z
  .object({
    traceId: z.string(),
    spanId: z.string(),
    parentSpanId: z.string().optional(),
    name: z.string(),
    kind: z.enum(['internal', 'server', 'client', 'producer', 'consumer']),
    service: z.string(),
    instance: z.string().optional(),
    startTime: z.number().describe('Epoch milliseconds.'),
    durationMs: z.number(),
    status: z.object({ code: z.enum(['unset', 'ok', 'error']), message: z.string().optional() }),
    attributes: Attributes,
    events: z.array(z.object({ name: z.string(), time: z.number(), attributes: Attributes })),
    links: z.array(z.object({ traceId: z.string(), spanId: z.string(), attributes: Attributes })),
  })
  .meta({ id: 'Span' });

export const TraceSummarySchema = z
  .object({
    traceId: z.string(),
    root: z.object({ name: z.string(), service: z.string() }),
    startTime: z.number(),
    durationMs: z.number(),
    spans: z.number().int(),
    errors: z.number().int(),
    services: z.array(z.string()),
    correlationIds: z.array(z.string()),
    orderIds: z.array(z.string()),
  })
  .meta({ id: 'TraceSummary' });

export const TraceListQuerySchema = z.strictObject({
  orderId: z.string().min(1).max(200).optional(),
  correlationId: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const TraceIdParamsSchema = z.object({
  traceId: z
    .string()
    .regex(/^[\da-fA-F]{32}$/, 'expected a 32-digit hex trace id')
    .transform((id) => id.toLowerCase()),
});

export const TimelineSchema = z
  .object({
    order: OrderSchema,
    entries: z.array(TimelineEntrySchema),
    traces: z
      .array(TraceSummarySchema)
      .nullable()
      .describe("The order's traces in this API's span store; null where spans are kept elsewhere."),
  })
  .meta({ id: 'OrderTimeline' });

export const TimelineParamsSchema = z.object({ id: OrderIdSchema.transform((id) => id.toLowerCase()) });
