/**
 * The page a buyer sees when the front door turns a request away before any function answers: API Gateway throttling
 * or timing out (`gateway-responses.ts`), or the web firewall's rate limit (`web-firewall.ts`). It is static, built
 * into the template, so it has no branding and no links; it carries the headers the functions' own pages carry, as far
 * as a page without a stylesheet or images needs them.
 */

/**
 * No stylesheet (the policy admits none), no image, no script, no link to load. No `$` either: API Gateway
 * substitutes `$variables` in a gateway response template.
 */
export const TRY_AGAIN_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Please try again in a minute</title>
</head>
<body>
<main>
<h1>Please try again in a minute</h1>
<p>We could not complete your request just now because the service is busy or did not answer in time.
Your AWS Marketplace subscription is not affected.</p>
<p>Please wait a minute, then reload this page. If you came from AWS Marketplace, you can also go back and
choose to set up your account again.</p>
</main>
</body>
</html>
`;

/** Header names in lower case, as the functions send them. */
export const tryAgainPageHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
