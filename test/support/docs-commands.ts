/**
 * The shell commands the documentation gives: every line of every ```sh block in the README and `docs/`, with the
 * page and the heading it is under, so that tests can check that each names something that exists and run the ones a
 * newcomer runs first.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { projectRoot } from '../../local/config.ts';

export interface DocumentedCommand {
  /** The page, relative to the project root. */
  readonly page: string;
  /** The nearest heading above the block. */
  readonly heading: string;
  /** The command without its trailing comment; continuation lines are joined. */
  readonly command: string;
}

export async function documentationPages(): Promise<string[]> {
  const docs = join(projectRoot, 'docs');
  const entries = await readdir(docs, { recursive: true });
  return [
    join(projectRoot, 'README.md'),
    ...entries.filter((entry) => entry.endsWith('.md')).map((entry) => join(docs, entry)),
  ];
}

export async function documentedCommands(): Promise<DocumentedCommand[]> {
  const pages = await documentationPages();
  const commands = await Promise.all(
    pages.map(async (path) => commandsOf(relative(projectRoot, path), await readFile(path, 'utf8'))),
  );
  return commands.flat();
}

export function commandsOf(page: string, markdown: string): DocumentedCommand[] {
  const commands: DocumentedCommand[] = [];
  let heading = '';
  let inShellBlock = false;
  let inOtherBlock = false;
  let pending = '';
  for (const line of markdown.split('\n')) {
    const fence = /^\s*```(\w*)/.exec(line);
    if (fence !== null) {
      if (inShellBlock || inOtherBlock) {
        inShellBlock = inOtherBlock = false;
      } else if (fence[1] === 'sh' || fence[1] === 'bash') {
        inShellBlock = true;
      } else {
        inOtherBlock = true;
      }
      continue;
    }
    if (!inShellBlock && !inOtherBlock && line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    if (!inShellBlock) continue;
    const text = withoutComment(line).trim();
    if (text === '' && pending === '') continue;
    if (text.endsWith('\\')) {
      pending += `${text.slice(0, -1).trim()} `;
      continue;
    }
    // A quoted argument (a JSON body, say) may run over several lines.
    if (openQuote(pending + text) !== undefined) {
      pending += `${text}\n`;
      continue;
    }
    commands.push({ page, heading, command: pending + text });
    pending = '';
  }
  return commands;
}

/** A `#` that starts a comment: at the start, or after a space and outside quotes. */
function withoutComment(line: string): string {
  const start = commentStart(line);
  return start === undefined ? line : line.slice(0, start);
}

/** The quote character left open at the end of `text`, if any. */
function openQuote(text: string): string | undefined {
  return scan(text).quote;
}

function commentStart(line: string): number | undefined {
  return scan(line).commentAt;
}

function scan(text: string): { quote?: string; commentAt?: number } {
  let quote: string | undefined;
  for (let index = 0; index < text.length; index++) {
    const character = text[index]!;
    if (quote !== undefined) {
      if (character === quote) quote = undefined;
    } else if (character === "'" || character === '"') {
      quote = character;
    } else if (character === '#' && (index === 0 || /\s/.test(text[index - 1]!))) {
      return { commentAt: index };
    }
  }
  return quote === undefined ? {} : { quote };
}
