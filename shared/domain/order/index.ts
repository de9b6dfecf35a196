/** The order aggregate: state folded from events (`evolve`) and decisions on commands (`decide`). Pure. */
export * from './state.ts';
export * from './decide.ts';
