/**
 * What the buyer pages answer alike, whoever answers: the functions' own pages and the static page of the front door
 * (API Gateway's throttling and timeouts, the web firewall's rate limit).
 */

/**
 * How long a buyer turned away (throttled, or Marketplace or the database overloaded) is asked to wait: `Retry-After`.
 * API Gateway's own throttled and timed-out answers carry it on every route, the seller's app's too (a gateway response
 * is one per API): changing it changes how long the app is asked to wait there (the usage client waits 30 s at most).
 */
export const BUYER_RETRY_AFTER_SECONDS = 60;
