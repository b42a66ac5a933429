/**
 * The usage client stands alone (it imports nothing of the backend), so it keeps its own copy of the API's limits, to
 * refuse at `record()` what the API would refuse and to cut its calls short of what the API takes. A limit changed on
 * one side only would have the client send calls the API refuses whole, or refuse events the API would take.
 */
import { expect, test } from 'vitest';
import * as client from '../../client/usage-events.ts';
import * as api from '../../lambdas/core/metering/recording/usage-event.ts';
import { MAX_USAGE_BODY_BYTES } from '../../lambdas/metering/usage-handler.ts';

test("the client's copy of each limit of POST /usage is the API's", () => {
  expect({
    eventsPerCall: client.MAX_EVENTS_PER_CALL,
    callBytes: client.MAX_CALL_BYTES,
    quantity: client.MAX_QUANTITY,
    subscriberIdLength: client.MAX_SUBSCRIBER_ID_LENGTH,
    dimensionLength: client.MAX_DIMENSION_LENGTH,
    tags: client.MAX_TAGS,
    tagKeyLength: client.MAX_TAG_KEY_LENGTH,
    tagValueLength: client.MAX_TAG_VALUE_LENGTH,
    futureToleranceMs: client.FUTURE_TOLERANCE_MS,
  }).toEqual({
    eventsPerCall: api.MAX_USAGE_EVENTS_PER_CALL,
    callBytes: MAX_USAGE_BODY_BYTES,
    quantity: api.MAX_QUANTITY,
    subscriberIdLength: api.MAX_SUBSCRIBER_ID_LENGTH,
    dimensionLength: api.MAX_DIMENSION_LENGTH,
    tags: api.MAX_TAGS,
    tagKeyLength: api.MAX_TAG_KEY_LENGTH,
    tagValueLength: api.MAX_TAG_VALUE_LENGTH,
    futureToleranceMs: api.FUTURE_TOLERANCE_MS,
  });
});
