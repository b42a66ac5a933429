/** The one place runtime code learns the time, so that tests and the local stack can set it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

let lambdaClockSource: Clock = systemClock;

/**
 * The clock the Lambda entry points run on: the system's in AWS. The local stack points it at the Marketplace
 * simulator's clock, so that moving that clock (an hour in seconds, a final-metering window closing) moves every
 * handler with it, as Marketplace and AWS share one time when deployed.
 */
export const lambdaClock: Clock = { now: () => lambdaClockSource.now() };

/** For the local stack only: what `lambdaClock` reads, in this process, until set again. */
export function runLambdasOn(clock: Clock): void {
  lambdaClockSource = clock;
}
