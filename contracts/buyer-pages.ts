/**
 * What the buyer pages answer alike, whoever answers: the functions' own pages and the static page of the front door
 * (API Gateway's throttling and timeouts, the web firewall's rate limit).
 */

/** How long a buyer turned away (throttled, or Marketplace or the database overloaded) is asked to wait: `Retry-After`. */
export const BUYER_RETRY_AFTER_SECONDS = 60;
