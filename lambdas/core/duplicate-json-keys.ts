/**
 * `JSON.parse` keeps the last of two equal keys in an object, and other readers keep the first: a proxy, a log, an
 * auditor's script would read `{"quantity":1,"quantity":5}` as 1 where the handler counts 5. Money input that two
 * readers could read two ways is refused instead.
 */

/** The index of the quote that closes the JSON string opening at `start`, in text that is valid JSON. */
function endOfString(text: string, start: number): number {
  let index = start + 1;
  while (text[index] !== '"') index += text[index] === '\\' ? 2 : 1;
  return index;
}

/**
 * The first key that appears twice in one object of `text`, which must be valid JSON (parse it first), or `undefined`.
 * Keys compare as JSON decodes them: `"a"` and `"\u0061"` are the same key. Nesting depth costs no stack.
 */
export function firstDuplicateKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far in an object, `undefined` for an array.
  const open: (Set<string> | undefined)[] = [];
  let keyNext = false;
  for (let index = 0; index < text.length; index += 1) {
    switch (text[index]) {
      case '"': {
        const end = endOfString(text, index);
        if (keyNext) {
          const raw = text.slice(index + 1, end);
          const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
          const keys = open.at(-1);
          if (keys?.has(key)) return key;
          keys?.add(key);
          keyNext = false;
        }
        index = end;
        break;
      }
      case '{':
        open.push(new Set());
        keyNext = true;
        break;
      case '[':
        open.push(undefined);
        keyNext = false;
        break;
      case '}':
      case ']':
        open.pop();
        keyNext = false;
        break;
      case ',':
        keyNext = open.at(-1) !== undefined;
        break;
    }
  }
  return undefined;
}
