/**
 * What a buyer sees when the front door answers instead of a function: API Gateway's own responses (throttled, timed
 * out, failed) and the web firewall's rate limit. Both answer with the same static page and security headers.
 */
import { describe, expect, test } from 'vitest';
import { securityHeaders } from '../../lambdas/registration/http.ts';
import { BUYER_RETRY_AFTER_SECONDS } from '../../contracts/index.ts';
import { TRY_AGAIN_PAGE, tryAgainPageHeaders } from '../../lib/try-again-page.ts';
import { resourcesOfType, synthesize, type CfnResource } from './synthesis.ts';

/** What the functions send with their own pages, whatever the branding adds. */
const functionHeaders = securityHeaders('', { imageOrigins: [], formTargets: [] });
const directives = (policy: string) => policy.split(';').map((directive) => directive.trim());

describe('the try-again page', () => {
  test('is a complete, labelled HTML document that says what to do', () => {
    expect(TRY_AGAIN_PAGE).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(TRY_AGAIN_PAGE).toContain('<meta charset="utf-8">');
    expect(TRY_AGAIN_PAGE).toContain('<meta name="viewport"');
    expect(TRY_AGAIN_PAGE).toContain('<title>Please try again in a minute</title>');
    expect(TRY_AGAIN_PAGE).toContain('<main>\n<h1>Please try again in a minute</h1>');
  });

  test('loads nothing (no stylesheet, script, image, frame or link) and has no $ for API Gateway to substitute', () => {
    expect(TRY_AGAIN_PAGE).not.toMatch(/<(style|script|img|link|iframe|object|embed|form)\b|\b(src|href|style)=|\$/i);
  });

  test('carries the security headers the functions send, for a page that loads nothing', () => {
    for (const name of ['x-content-type-options', 'referrer-policy', 'cache-control']) {
      expect(tryAgainPageHeaders[name], name).toBe(functionHeaders[name]);
    }
    expect(directives(tryAgainPageHeaders['content-security-policy'] ?? '')).toEqual([
      "default-src 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ]);
    for (const directive of directives(tryAgainPageHeaders['content-security-policy'] ?? '')) {
      expect(directives(functionHeaders['content-security-policy'] ?? '')).toContain(directive);
    }
  });
});

describe("API Gateway's own responses", () => {
  const { template } = synthesize();
  const responses = new Map(
    Object.values(resourcesOfType(template, 'AWS::ApiGateway::GatewayResponse')).map((resource) => [
      resource.Properties['ResponseType'] as string,
      resource,
    ]),
  );

  /** The response's headers as the browser gets them: API Gateway reads `'text'` as that literal text. */
  function headersOf(response: CfnResource | undefined): Record<string, string> {
    const parameters = (response?.Properties['ResponseParameters'] ?? {}) as Record<string, string>;
    return Object.fromEntries(
      Object.entries(parameters).map(([parameter, value]) => {
        expect(value, parameter).toMatch(/^'.*'$/s);
        return [parameter.replace(/^gatewayresponse\.header\./, ''), value.slice(1, -1)];
      }),
    );
  }

  const pageHeaders = { ...tryAgainPageHeaders, 'content-type': 'text/html; charset=utf-8' };
  const retryAfter = { 'retry-after': String(BUYER_RETRY_AFTER_SECONDS) };

  test('are the page for throttling, a timeout and any 5xx; a 4xx stays JSON for the machine routes to come', () => {
    expect([...responses.keys()].sort()).toEqual(['DEFAULT_5XX', 'INTEGRATION_TIMEOUT', 'THROTTLED']);
  });

  test.each([
    ['THROTTLED', '429', { ...pageHeaders, ...retryAfter }],
    ['INTEGRATION_TIMEOUT', '504', { ...pageHeaders, ...retryAfter }],
    ['DEFAULT_5XX', undefined, pageHeaders],
  ])('%s answers %s with the page, its headers and no other', (type, statusCode, headers) => {
    const response = responses.get(type);
    expect(response?.Properties['StatusCode']).toBe(statusCode);
    expect(headersOf(response)).toEqual(headers);
  });

  test.each(['THROTTLED', 'INTEGRATION_TIMEOUT', 'DEFAULT_5XX'])(
    '%s sends the page whichever template API Gateway picks for the Accept header',
    (type) => {
      const templates = responses.get(type)?.Properties['ResponseTemplates'] as Record<string, string>;
      expect(Object.keys(templates).sort()).toEqual(['application/json', 'text/html']);
      for (const body of Object.values(templates)) expect(body).toBe(TRY_AGAIN_PAGE);
    },
  );
});

describe("the web firewall's rate limit", () => {
  const { template } = synthesize({ 'marketplace.api.waf.enabled': true });
  const [webAcl] = Object.values(resourcesOfType(template, 'AWS::WAFv2::WebACL'));
  const { Rules, CustomResponseBodies } = (webAcl?.Properties ?? {}) as {
    Rules: { Action: { Block?: { CustomResponse?: Record<string, unknown> } } }[];
    CustomResponseBodies: Record<string, { ContentType: string; Content: string }>;
  };
  const customResponse = Rules[0]?.Action.Block?.CustomResponse as {
    ResponseCode: number;
    CustomResponseBodyKey: string;
    ResponseHeaders: { Name: string; Value: string }[];
  };

  test('answers 429 with the same page as HTML', () => {
    expect(customResponse.ResponseCode).toBe(429);
    expect(CustomResponseBodies[customResponse.CustomResponseBodyKey]).toEqual({
      ContentType: 'TEXT_HTML',
      Content: TRY_AGAIN_PAGE,
    });
    // WAF's limit on a custom response body.
    expect(TRY_AGAIN_PAGE.length).toBeLessThanOrEqual(10_240);
  });

  test("with the page's security headers and a Retry-After", () => {
    const headers = Object.fromEntries(customResponse.ResponseHeaders.map(({ Name, Value }) => [Name, Value]));
    expect(headers).toEqual({ ...tryAgainPageHeaders, 'retry-after': String(BUYER_RETRY_AFTER_SECONDS) });
  });
});
