/**
 * API Gateway's own answers (its "gateway responses"), byte for byte as a REST API with no customized gateway
 * responses sends them: the JSON spacing differs between them because API Gateway's does.
 *
 * Verified, and where:
 * - Status codes and when each applies: the API Gateway developer guide, "Gateway response types"
 *   (supported-gateway-response-types): MISSING_AUTHENTICATION_TOKEN 403 "including the cases when the client attempts
 *   to invoke an unsupported API method or resource", REQUEST_TOO_LARGE 413, INTEGRATION_TIMEOUT 504,
 *   API_CONFIGURATION_ERROR 500 (among others, "Base64 decoding failed on binary data").
 * - Bodies and `x-amzn-ErrorType`: responses captured from deployed APIs and published in public repositories:
 *   403 `{"message":"Missing Authentication Token"}` (Content-Length 42) with MissingAuthenticationTokenException;
 *   502 and 500 `{"message": "Internal server error"}` (36) with InternalServerErrorException;
 *   504 `{"message": "Endpoint request timed out"}` (41) with InternalServerErrorException;
 *   413 `HTTP content length exceeded 10485760 bytes.` as plain text, for a body over 10 MB (several captures agree).
 * - IAM authorization's refusals (all 403; `x-amzn-ErrorType` IncompleteSignatureException or
 *   InvalidSignatureException; `{"message":...}` bodies): as captured from deployed APIs in public issue threads,
 *   e.g. "Signature expired: 20201027T123008Z is now earlier than 20201027T125507Z (20201027T130007Z - 5 min.)"
 *   (mhart/aws4#118), "Signature not yet current: ... is still later than ... (... + 5 min.)", and the mismatch with
 *   "The Canonical String for this request should have been" and "The String-to-Sign should have been"
 *   (mhart/aws4#33, aws/aws-sdk-js#2372). The incomplete-header message lists what is missing as API Gateway does,
 *   but its wording for headers that are not SigV4 at all (a `Bearer` token) is not reproduced.
 * - Not verified: the 413 `{"message":"Request Too Long"}` for an event over Lambda's 6 MB invocation limit is the
 *   REQUEST_TOO_LARGE default as reported by users; its headers beyond the status are a guess.
 */
import type { HeaderLine, HttpAnswer } from './http-answer.ts';

function gatewayResponse(statusCode: number, errorType: string | undefined, body: string): HttpAnswer {
  const headers: HeaderLine[] = [['Content-Type', 'application/json']];
  if (errorType !== undefined) headers.push(['x-amzn-ErrorType', errorType]);
  return { statusCode, headers, body: Buffer.from(body) };
}

/** No resource matches the path, or the resource has no method for the request's (nor `ANY`). */
export function missingAuthenticationToken(): HttpAnswer {
  return gatewayResponse(403, 'MissingAuthenticationTokenException', '{"message":"Missing Authentication Token"}');
}

/** IAM authorization: an `Authorization` header that is not a whole SigV4 one, or no signing date. */
export function incompleteSignature(message: string): HttpAnswer {
  return gatewayResponse(403, 'IncompleteSignatureException', JSON.stringify({ message }));
}

/** IAM authorization: a SigV4 header for the wrong region, service or date, or dated more than 5 minutes from now. */
export function invalidSignature(message: string): HttpAnswer {
  return gatewayResponse(403, 'InvalidSignatureException', JSON.stringify({ message }));
}

/** IAM authorization: the signature is not the one the secret access key makes for this request. */
export function signatureMismatch(canonicalRequest: string, stringToSign: string): HttpAnswer {
  return invalidSignature(
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access ' +
      'Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this ' +
      `request should have been\n'${canonicalRequest}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`,
  );
}

/** The function failed, or returned something that is not a Lambda proxy result. */
export function internalServerError(): HttpAnswer {
  return gatewayResponse(502, 'InternalServerErrorException', '{"message": "Internal server error"}');
}

/** API_CONFIGURATION_ERROR: here, a result that claims a base64 body that is not base64. */
export function apiConfigurationError(): HttpAnswer {
  return gatewayResponse(500, 'InternalServerErrorException', '{"message": "Internal server error"}');
}

/** INTEGRATION_TIMEOUT: the function did not answer within the integration timeout. */
export function endpointRequestTimedOut(): HttpAnswer {
  return gatewayResponse(504, 'InternalServerErrorException', '{"message": "Endpoint request timed out"}');
}

/** REQUEST_TOO_LARGE: the event built from the request is over Lambda's synchronous invocation limit. */
export function requestTooLong(): HttpAnswer {
  return gatewayResponse(413, undefined, '{"message":"Request Too Long"}');
}

/** The front door's answer to a body over the payload quota, refused before any routing or function. */
export function contentLengthExceeded(limit: number): HttpAnswer {
  return { statusCode: 413, headers: [], body: Buffer.from(`HTTP content length exceeded ${limit} bytes.`) };
}
