/**
 * Running order commands against the store: load the state, decide (pure, shared/domain/order),
 * append the decisions with their events, projection and outbox rows in one statement. Used by
 * the API and by every function that changes an order.
 */
export * from './errors.ts';
export * from './execute.ts';
export * from './ids.ts';
export * from './place-batch.ts';
export * from './pricing.ts';
