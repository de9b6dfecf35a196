/**
 * Telemetry of every deployable: OpenTelemetry tracing (W3C trace context across HTTP and
 * Pub/Sub), the catalogued metrics, their exporters (Cloud Trace and Cloud Monitoring in
 * production, OTLP, and the local stack's span store and /metrics), and the receiver through which
 * the local stack's processes reach the API's console. See README.md for the wiring.
 *
 * infra/ imports metrics-catalogue.ts directly: this index pulls in the SDK.
 */
export * from './attributes.ts';
export * from './config.ts';
export * from './context.ts';
export * from './db.ts';
export * from './fastify.ts';
export * from './http-client.ts';
export * from './messaging.ts';
export * from './metrics.ts';
export * from './metrics-catalogue.ts';
export * from './otlp.ts';
export * from './prometheus.ts';
export * from './setup.ts';
export * from './sources.ts';
export * from './span-store.ts';
