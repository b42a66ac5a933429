/**
 * How long Marketplace takes a usage record after its hour: what the metering run keeps to and what the configuration
 * checks the final-metering grace against.
 */

/** A month's records are accepted until this many hours into the 1st of the next (UTC), even inside the window. */
export const MONTH_END_CUTOFF_HOURS = 6;
