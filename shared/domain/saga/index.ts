/**
 * The fulfilment saga, pure: `decide(state, event, context)` picks the next step as a command,
 * the saga function executes it (inventory in Postgres, providers over HTTP), and
 * `eventsForOutcome(state, command, outcome)` turns what happened into the events to record.
 */
export * from './commands.ts';
export * from './config.ts';
export * from './decide.ts';
export * from './outcome.ts';
