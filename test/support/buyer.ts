/**
 * A buyer's browser, reduced to what it does on the wire: POST the Marketplace form to the fulfillment URL, keep the
 * session cookie it is given, and GET/POST the registration page. Redirects are not followed, so tests see each
 * answer.
 */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

async function answer(response: Response): Promise<Answer> {
  return { status: response.status, headers: response.headers, body: await response.text() };
}

export const FORM = 'application/x-www-form-urlencoded';

export async function postFulfillment(
  fulfillmentUrl: string,
  fields: Record<string, string> | string,
  contentType = FORM,
): Promise<Answer> {
  const body = typeof fields === 'string' ? fields : new URLSearchParams(fields).toString();
  return answer(
    await fetch(fulfillmentUrl, { method: 'POST', redirect: 'manual', headers: { 'content-type': contentType }, body }),
  );
}

/** The `name=value` of the session cookie an answer sets, ready for a `cookie` header. */
export function sessionCookieOf(response: Answer): string {
  const setCookie = response.headers.get('set-cookie') ?? '';
  const pair = setCookie.split(';')[0] ?? '';
  if (!pair.startsWith('mp_registration_')) throw new Error(`no session cookie in: ${setCookie}`);
  return pair;
}

export async function getRegistration(registerUrl: string, cookie?: string): Promise<Answer> {
  return answer(await fetch(registerUrl, { redirect: 'manual', headers: cookie === undefined ? {} : { cookie } }));
}

export async function postRegistration(
  registerUrl: string,
  cookie: string | undefined,
  fields: Record<string, string> | readonly [string, string][],
): Promise<Answer> {
  return answer(
    await fetch(registerUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': FORM, ...(cookie === undefined ? {} : { cookie }) },
      body: new URLSearchParams(fields).toString(),
    }),
  );
}

export function formTokenOf(page: string): string {
  const token = /name="formToken" value="([^"]+)"/.exec(page)?.[1];
  if (token === undefined) throw new Error('no formToken in the page');
  return token;
}

/** The buyer fills in the registration page its arrival (the fulfillment URL's answer) led to: the form's answer. */
export async function registerAfter(
  arrival: Answer,
  registerUrl: string,
  details: Record<string, string>,
): Promise<Answer> {
  const cookie = sessionCookieOf(arrival);
  const formToken = formTokenOf((await getRegistration(registerUrl, cookie)).body);
  return postRegistration(registerUrl, cookie, { formToken, ...details });
}
