import { expect, test } from 'vitest';
import { validateRegistration } from '../../lambdas/core/registration-form.ts';

const required = ['company', 'contactName', 'email'] as const;
const valid = { company: 'Acme', contactName: 'Ada', email: 'ada@example.com' };

test('any email domain is accepted, webmail included', () => {
  for (const email of [
    'a@gmail.com',
    'first.last+tag@yahoo.co.uk',
    'x@sub.example.museum',
    "o'brien@example.ie",
    'jos\u00e9@m\u00fcnchen.de',
    'ada@xn--mnchen-3ya.de',
    'ops@my-company.io',
    'a@x1.example.com',
    'Ada.Lovelace@Example.COM',
    'li@163.com',
    'studio@example.photography',
    'info@example.xn--p1ai',
    'x@a.b.co',
    // Japanese carriers' addresses, given out with dots anywhere before the @, still get mail.
    'taro..yamada@docomo.ne.jp',
    'taro.@docomo.ne.jp',
    '.taro@ezweb.ne.jp',
  ]) {
    expect(validateRegistration({ ...valid, email }, required).valid).toBe(true);
  }
});

test('an email with markup, quoting, invisible characters or a typo no mail gets past is refused', () => {
  for (const email of [
    'ann\u200F@example.com',
    `'><svg/onload=1>@example.com`,
    'a"b@example.com',
    'a b@example.com',
    'a@b',
    'a;b@example.com',
    "ann@o'example.com",
    // Typos no mail gets past, which the buyer could not correct once registered.
    'bob@example..com',
    'bob@gmail.com.',
    'bob@.example.com',
    'bob@-example.com',
    'bob@example-.com',
    'a@exa_mple.com',
    'bob@example.c',
    'bob@example.123',
    'bob@@example.com',
    '@example.com',
  ]) {
    const validation = validateRegistration({ ...valid, email }, required);
    expect(validation.valid, email).toBe(false);
  }
});

test('control characters and line separators are refused in any field', () => {
  for (const company of ['Acme\u0000', 'Acme\u2028Ltd', 'Acme\u0007']) {
    const validation = validateRegistration({ ...valid, company }, required);
    expect(validation.valid ? undefined : validation.errors.company, JSON.stringify(company)).toBe(
      'Remove the line breaks or control characters',
    );
  }
});

test('direction overrides and isolates are refused, and the value shown again without them, to be checked and sent', () => {
  for (const company of ['Ac\u202Eme', 'Ac\u2066me\u2069', '\u202BAcme\u202C']) {
    const validation = validateRegistration({ ...valid, company }, required);
    expect(validation.valid, JSON.stringify(company)).toBe(false);
    if (validation.valid) continue;
    expect(validation.errors.company).toContain('invisible formatting characters');
    expect(validation.values.company).toBe('Acme');
    expect(validateRegistration({ ...valid, company: validation.values.company }, required).valid).toBe(true);
  }
});

test('zero-width spaces, word joiners and byte order marks pasted along are removed, not refused', () => {
  for (const company of ['Acme\u200B', 'Ac\uFEFFme', '\uFEFFAc\u2060me ']) {
    expect(validateRegistration({ ...valid, company }, required), JSON.stringify(company)).toEqual({
      valid: true,
      details: { ...valid, company: 'Acme' },
    });
  }
  const email = 'ada\u200B@example.com';
  expect(validateRegistration({ ...valid, email }, required)).toEqual({ valid: true, details: valid });
});

test('text that did not arrive as UTF-8 (the replacement character) is refused, to be typed again', () => {
  // What new URLSearchParams('company=Acme%FF') gives, as API Gateway does for raw bytes that are not UTF-8.
  const company = new URLSearchParams('company=Acme%FF').get('company')!;
  const validation = validateRegistration({ ...valid, company }, required);
  expect(validation.valid ? undefined : validation.errors.company).toBe(
    'Type this again: some characters did not arrive intact (\uFFFD)',
  );
  expect(validateRegistration({ ...valid, company: 'Acme \u00E9\u4E2D' }, required).valid).toBe(true);
});

test('a value too long to keep is shown again cut short, never through the middle of an emoji', () => {
  const company = `${'A'.repeat(399)}${'\u{1F600}'.repeat(5)}`;
  const validation = validateRegistration({ ...valid, company }, required);
  expect(validation.valid).toBe(false);
  const shown = validation.valid ? '' : (validation.values.company ?? '');
  // Shown up to twice the 200 allowed (400 UTF-16 units): the emoji that would straddle the cut is left out whole.
  expect(shown).toBe('A'.repeat(399));
  const fits = validateRegistration({ ...valid, company: `${'A'.repeat(398)}${'\u{1F600}'.repeat(5)}` }, required);
  expect(fits.valid ? '' : fits.values.company).toBe(`${'A'.repeat(398)}\u{1F600}`);
});

test("lengths count UTF-16 units, as the form's maxlength does: what the browser lets through is not too long", () => {
  const company = `Acme ${'\u{1F600}'.repeat(97)}`;
  expect(validateRegistration({ ...valid, company }, required)).toEqual({
    valid: true,
    details: { ...valid, company },
  });
  const tooLong = validateRegistration({ ...valid, company: '\u{1F600}'.repeat(101) }, required);
  expect(tooLong.valid ? undefined : tooLong.errors.company).toBe('Use at most 200 characters');
});

test('the format characters that spell names and emoji are kept', () => {
  const spelled = {
    company: 'می\u200Cخواهم',
    contactName: 'क्\u200Dष \u{1F468}\u200D\u{1F469}\u200D\u{1F467}',
    email: 'ada@example.com',
  };
  for (const details of [spelled, { ...valid, company: 'Acme\u00ADWidgets' }]) {
    expect(validateRegistration(details, required)).toEqual({ valid: true, details });
  }
  const england = '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}';
  // The direction marks pasted Hebrew and Arabic text carries unseen.
  for (const company of ['\u05D7\u05D1\u05E8\u05D4 \u200EAcme', '\u0634\u0631\u0643\u0629\u061C', 'Acme\u200F']) {
    expect(validateRegistration({ ...valid, company }, required), JSON.stringify(company)).toEqual({
      valid: true,
      details: { ...valid, company },
    });
  }
  expect(validateRegistration({ ...valid, company: `Acme ${england}` }, required).valid).toBe(true);
});

test('required fields come from configuration; optional ones may be empty and are not stored', () => {
  expect(validateRegistration({ company: 'Acme' }, ['company'])).toEqual({ valid: true, details: { company: 'Acme' } });
  const missing = validateRegistration({}, required);
  expect(missing.valid ? {} : missing.errors).toEqual({
    company: 'Enter your company name',
    contactName: 'Enter the name of a contact person',
    email: 'Enter an email address',
  });
});

test('a value with nothing visible in it is no value: missing if required, not stored if optional', () => {
  const invisible = validateRegistration({ ...valid, company: '\u200D', phone: '\u00AD \u200E' }, required);
  expect(invisible.valid ? {} : invisible.errors).toEqual({ company: 'Enter your company name' });
  const filler = validateRegistration({ ...valid, contactName: '\u3164' }, required);
  expect(filler.valid ? {} : filler.errors).toEqual({ contactName: 'Enter the name of a contact person' });
  expect(validateRegistration({ ...valid, phone: '\u200C\u00A0' }, required)).toEqual({ valid: true, details: valid });
});

test('a field given more than once is refused, whichever of its values would pass', () => {
  expect(validateRegistration({ ...valid, company: ['Acme', 'Acme'] }, required)).toEqual(
    expect.objectContaining({ valid: false, errors: { company: 'Enter this once: the form sent it 2 times' } }),
  );
  expect(validateRegistration({ ...valid, company: ['Acme'] }, required).valid).toBe(true);
});

test('text is stored in one Unicode form (NFC): the same name typed decomposed or composed is the same details', () => {
  const decomposed = validateRegistration({ ...valid, company: 'Zoe\u0308 Ltd' }, required);
  const composed = validateRegistration({ ...valid, company: 'Zo\u00EB Ltd' }, required);
  expect(decomposed).toEqual({ valid: true, details: { ...valid, company: 'Zo\u00EB Ltd' } });
  expect(decomposed).toEqual(composed);
});

test('a phone number that is too short says what the rule is: at least 6 digits', () => {
  for (const phone of ['+1 555', '12']) {
    const validation = validateRegistration({ ...valid, phone }, required);
    expect(validation.valid ? undefined : validation.errors.phone, phone).toContain('at least 6 digits');
  }
});
