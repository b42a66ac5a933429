/**
 * The registration form's rules: what each field accepts and which are required (from configuration). No email
 * domain is refused: Marketplace requires sellers to accept webmail addresses.
 */
import { REGISTRATION_FIELDS, type RegistrationField } from '../../contracts/index.ts';
import type { RegistrationDetails } from './subscriber.ts';

export type FieldErrors = Partial<Record<RegistrationField, string>>;

export type FormValidation =
  | { readonly valid: true; readonly details: RegistrationDetails }
  | { readonly valid: false; readonly errors: FieldErrors; readonly values: RegistrationDetails };

interface FieldRule {
  readonly label: string;
  readonly maxLength: number;
  readonly missing: string;
  readonly check?: (value: string) => string | undefined;
}

export const fieldRules: Record<RegistrationField, FieldRule> = {
  company: { label: 'Company', maxLength: 200, missing: 'Enter your company name' },
  contactName: { label: 'Contact name', maxLength: 200, missing: 'Enter the name of a contact person' },
  email: {
    label: 'Email',
    maxLength: 254,
    missing: 'Enter an email address',
    check: (value) => (isPracticalEmail(value) ? undefined : 'Enter an email address like name@example.com'),
  },
  phone: {
    label: 'Phone',
    maxLength: 32,
    missing: 'Enter a phone number',
    check: (value) =>
      /^\+?[0-9 ()./-]+$/.test(value) && value.replace(/\D/g, '').length >= 6
        ? undefined
        : 'Enter a phone number of at least 6 digits, using digits, spaces and + ( ) - . only',
  },
};

/**
 * An address mail can reach, as a buyer types it: no spaces, double quotes, angle brackets, format characters (not even
 * the direction marks names may carry) or other characters that only serve to break whatever the seller feeds it into
 * next. An apostrophe is a name's (o'brien@example.com), so the part before the @ may hold one, and dots anywhere
 * (Japanese carriers gave out `taro..yamada@docomo.ne.jp`, which still get mail). The domain is host names' labels
 * (letters of any script, digits, inner hyphens), the last one a top-level domain's: a typo such as `example..com` or
 * `gmail.com.` is refused while the buyer can still correct it, as the registration is written once.
 */
function isPracticalEmail(value: string): boolean {
  const at = value.lastIndexOf('@');
  const local = value.slice(0, at);
  const labels = value.slice(at + 1).split('.');
  return (
    at > 0 &&
    /^[^\s@<>"()[\],;:\\]+$/u.test(local) &&
    !/\p{Cf}/u.test(value) &&
    labels.length >= 2 &&
    labels.every((label) => /^[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?$/u.test(label)) &&
    /^(?:\p{L}[\p{L}\p{M}]+|xn--[a-z0-9-]+)$/iu.test(labels.at(-1)!)
  );
}

// Control and format characters (bidirectional overrides and isolates), and the separators that would let one field
// pose as two lines. Not the format characters that spell names and emoji: the zero-width
// non-joiner and joiner (Persian, Indic scripts, emoji sequences), the soft hyphen, the tags of subdivision flags, and
// the direction marks that Hebrew and Arabic text carries unseen when pasted (left-to-right, right-to-left, Arabic
// letter mark): a buyer could not see what to remove. A mark sets the direction of the digits and punctuation beside
// it, which is what it is in the text for; unlike an override or an isolate, it cannot make text show as other text.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const FORMATTING = /(?!\u00AD|\u200C|\u200D|\u200E|\u200F|\u061C|[\u{E0020}-\u{E007F}])\p{Cf}/gu;
// Format characters that mean nothing in a name, an address or a number, and come along unseen with pasted text (a
// zero-width space, a word joiner, a byte order mark): removed, not refused, as the buyer could not see what to remove.
const MEANINGLESS = /[\u200B\u2060\uFEFF]/gu;
// A value with nothing to see: only spaces and characters shown as nothing (format characters, fillers such as U+3164),
// which would fill a required field with nothing.
const INVISIBLE = /^[\s\p{Default_Ignorable_Code_Point}]*$/u;
// The replacement character: what a browser or API Gateway makes of bytes that were not UTF-8 (or `%FF` decoded), so
// the buyer's text did not arrive as typed, and storing it would keep the garbling.
const GARBLED = /\uFFFD/u;

/** A value cut to at most `length` UTF-16 units to show again, never halving a character such as an emoji. */
function shownAgain(value: string, length: number): string {
  const cut = value.slice(0, length);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * Checks a submitted form (each field's values, as `URLSearchParams.getAll` gives them, or one value): a field sent
 * more than once is refused rather than one of its values picked, since the form itself sends each field once.
 */
export function validateRegistration(
  submitted: Readonly<Record<string, string | readonly string[] | undefined>>,
  required: readonly RegistrationField[],
): FormValidation {
  const values: RegistrationDetails = {};
  const errors: FieldErrors = {};
  for (const field of REGISTRATION_FIELDS) {
    const given = submitted[field];
    const all = given === undefined ? [] : typeof given === 'string' ? [given] : given;
    // NFC: the same text typed on another keyboard or pasted (a decomposed "e" and its diaeresis) is stored, compared
    // and shown as one string.
    const typed = (all[0] ?? '').normalize('NFC').replace(MEANINGLESS, '').trim();
    const value = INVISIBLE.test(typed) ? '' : typed;
    const rule = fieldRules[field];
    // Shown again without the formatting refused below: what the buyer sees is what is sent again.
    values[field] = shownAgain(value.replace(FORMATTING, ''), rule.maxLength * 2);
    if (all.length > 1) {
      errors[field] = `Enter this once: the form sent it ${all.length} times`;
      continue;
    }
    if (value === '') {
      if (required.includes(field)) errors[field] = rule.missing;
      continue;
    }
    const problem =
      // UTF-16 units, as the form's `maxlength` counts them: what the browser lets through is never refused as too long.
      value.length > rule.maxLength
        ? `Use at most ${rule.maxLength} characters`
        : CONTROL.test(value)
          ? 'Remove the line breaks or control characters'
          : value.search(FORMATTING) >= 0
            ? 'Check this and send it again: it held invisible formatting characters, pasted along with it, now removed'
            : GARBLED.test(value)
              ? 'Type this again: some characters did not arrive intact (\uFFFD)'
              : rule.check?.(value);
    if (problem !== undefined) errors[field] = problem;
  }
  if (Object.keys(errors).length > 0) return { valid: false, errors, values };
  const details = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== '')) as RegistrationDetails;
  return { valid: true, details };
}
