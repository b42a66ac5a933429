/**
 * Script-injection payloads, and how to tell that a page neutralised them. Each payload carries a unique mark next to
 * its live part, so that the mark locates an echo and the characters around it tell whether the echo was escaped:
 * escaped, `<`, `>`, `"`, `'` and `&` can never sit raw beside the mark.
 */

/** Every mark starts with this, so that a stored or echoed payload can be found by it. */
export const MARK_PREFIX = 'FZMARK';

export function hostilePayloads(mark: string): string[] {
  return [
    `<script>alert('${mark}')</script>`,
    `"><img src=x onerror=alert('${mark}')>`,
    `'><svg onload=alert("${mark}")>`,
    `" autofocus onfocus="alert('${mark}')`,
    `javascript:alert('${mark}')`,
    `javascript://%0Aalert('${mark}')`,
    `</style><script>${mark}</script>`,
    `</title></textarea><b>${mark}</b>`,
    `${mark}"><a href="javascript:alert(1)">x</a>`,
    `<!--${mark}-->`,
    // Already escaped: it must be escaped again, not passed through as markup.
    `&lt;script&gt;${mark}&lt;/script&gt;`,
    // Percent-encoded markup: decoded once by the form, it must not be decoded again into a tag.
    `%3Cscript%3E${mark}%3C%2Fscript%3E`,
    `${mark}\u0000<script>x</script>`,
    `\u202e${mark}<b>gpj.exe</b>`,
    `\u200b\ufeff${mark}'\u2028"\u2029<`,
    `${'\u{1F600}'.repeat(150)}<i>${mark}</i>${'\u0645\u0631\u062d\u0628\u0627'.repeat(40)}`,
    `{{constructor.constructor('${mark}')()}}\${${mark}}`,
  ];
}

const HTML_SIGNIFICANT = ['<', '>', '"', "'", '&'];

/**
 * The pieces of a payload that are live markup when echoed raw: from the nearest HTML-significant character before
 * the mark up to the mark, and from the mark to the next such character after it and one more. That one more
 * character tells a raw `&` from an escaped one (`&amp;`), and a raw `"` from the quote that ends an attribute whose
 * echoed value was cut just after the mark.
 */
export function liveFragments(payload: string, mark: string): string[] {
  const at = payload.indexOf(mark);
  if (at === -1) return [];
  const end = at + mark.length;
  const before = Math.max(...HTML_SIGNIFICANT.map((character) => payload.lastIndexOf(character, at)));
  const after = HTML_SIGNIFICANT.map((character) => payload.indexOf(character, end)).filter((index) => index !== -1);
  const afterFragment = after.length === 0 ? '' : payload.slice(at, Math.min(...after) + 2);
  return [
    ...(before === -1 ? [] : [payload.slice(before, end)]),
    // A payload that ends in `&` right after the mark cannot be told from its escaped echo.
    ...(afterFragment === '' || afterFragment.endsWith('&') ? [] : [afterFragment]),
  ];
}

/** Markup that no page of the registration capability ever contains (it has no script, image or comment). */
const NEVER_IN_A_PAGE: readonly [RegExp, string][] = [
  [/<script/i, 'a <script> tag'],
  [/<svg/i, 'an <svg> tag'],
  [/<img/i, 'an <img> tag'],
  [/<!--/, 'an HTML comment'],
  [/(?:href|src|action)\s*=\s*["']?\s*javascript:/i, 'a javascript: URL in an attribute'],
];

/** Elements every page has exactly once; a second one came from the input. */
const ONCE_IN_A_PAGE: readonly RegExp[] = [/<style[\s>]/gi, /<\/style>/gi, /<title>/gi, /<\/title>/gi];

/** Why `page` is not safe as an answer to a request that carried `payloads`: empty when it is. */
export function unescapedEchoes(page: string, payloads: readonly { value: string; mark: string }[]): string[] {
  const problems: string[] = [];
  for (const [pattern, what] of NEVER_IN_A_PAGE) if (pattern.test(page)) problems.push(`the page holds ${what}`);
  for (const pattern of ONCE_IN_A_PAGE) {
    const count = page.match(pattern)?.length ?? 0;
    if (count > 1) problems.push(`the page holds ${pattern.source} ${count} times`);
  }
  for (const { value, mark } of payloads) {
    for (const fragment of liveFragments(value, mark)) {
      if (page.includes(fragment)) problems.push(`the page echoes ${JSON.stringify(fragment)} unescaped`);
    }
  }
  return problems;
}
