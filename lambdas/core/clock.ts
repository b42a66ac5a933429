/** The one place runtime code learns the time, so that tests and the local stack can set it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
