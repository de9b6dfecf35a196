/**
 * Names the console offers in its filters and forms. Written here so the page does not bundle the
 * server's modules; test/unit/console/constants.test.ts keeps them equal to the server's lists.
 */

export const ORDER_STATUSES = [
  'placed',
  'awaiting_approval',
  'approved',
  'reserved',
  'payment_pending',
  'paid',
  'shipment_pending',
  'shipped',
  'delivered',
  'completed',
  'cancelling',
  'cancelled',
] as const;

export const DEAD_LETTER_STATUSES = ['open', 'redriven', 'discarded'] as const;

/** Subscriptions that dead-letter into the dead_letters table (the consuming functions' and their replay feeds'). */
export const DEAD_LETTER_SUBSCRIPTIONS = [
  'saga',
  'analytics',
  'notifier',
  'ingest',
  'timeouts',
  'saga-replay',
  'analytics-replay',
  'notifier-replay',
] as const;

export const REPLAY_CONSUMERS = ['saga', 'analytics', 'notifier'] as const;

export const REPLAY_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
