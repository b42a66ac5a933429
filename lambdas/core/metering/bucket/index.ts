/**
 * The usage bucket, the model the other metering parts share: one item per subscriber, dimension and hour (its keys and
 * states), when it is due and until when Marketplace takes it. Recording, the run and the report import it from here.
 */
export * from './acceptance-window.ts';
export * from './bucket-item.ts';
export * from './bucket-timing.ts';
export * from './usage-bucket.ts';
