/**
 * HTML that is escaped unless it says otherwise: every value interpolated into an `html` template is escaped, except
 * the output of another `html` template (or an array of them). A page cannot render a buyer's input unescaped by
 * forgetting to escape it.
 */

export class SafeHtml {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

type Interpolation = SafeHtml | string | number | undefined | null | false | readonly Interpolation[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Control characters have no place in a page; a buyer's input that carries one gets a visible placeholder. */
const CONTROL_CHARACTERS = /[^\P{Cc}\t\n\r]/gu;

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ESCAPES[character]!).replace(CONTROL_CHARACTERS, '\uFFFD');
}

function render(value: Interpolation): string {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  return new SafeHtml(strings.reduce((text, part, index) => text + render(values[index - 1]) + part));
}
