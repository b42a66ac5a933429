/**
 * Finding a secret however it was written down: a leak check that looked only for the raw value would miss it
 * percent-encoded in a URL, or base64-encoded in a logged event body.
 */

/** The forms a secret may take on its way through URLs, forms, logs and events. */
export function encodingsOf(secret: string): ReadonlyMap<string, string> {
  const forms = new Map<string, string>([
    ['raw', secret],
    ['URL-encoded', encodeURIComponent(secret)],
    ['form-encoded', new URLSearchParams({ secret }).toString().slice('secret='.length)],
    ['base64', Buffer.from(secret).toString('base64')],
    ['base64url', Buffer.from(secret).toString('base64url')],
  ]);
  // A secret that is itself base64 (a Marketplace token is) may be re-encoded to its URL-safe alphabet.
  const bytes = Buffer.from(secret, 'base64');
  if (bytes.toString('base64') === secret) forms.set('its bytes as base64url', bytes.toString('base64url'));
  return forms;
}

/** Each `place (form)` whose text holds the secret in one of its forms: empty when it is nowhere. */
export function placesHolding(secret: string, places: Readonly<Record<string, string>>): string[] {
  const forms = [...encodingsOf(secret)];
  return Object.entries(places).flatMap(([place, text]) =>
    forms.filter(([, form]) => text.includes(form)).map(([name]) => `${place} (${name})`),
  );
}
