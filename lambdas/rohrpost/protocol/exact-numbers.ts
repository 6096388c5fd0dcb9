/**
 * Whether the numbers of a request's `id` come back as the numbers the client wrote
 * (PROTOCOL.md §1). JSON.parse reads a number as the nearest double and JSON.stringify writes
 * that double's shortest form, so `1e-400` would come back as `0` and `0.10000000000000001` as
 * `0.1`; only the text the client sent says what it meant, so the check reads the text.
 */

/**
 * The texts of the numbers in the top-level `id` of `body`, in order. `body` must be a JSON
 * object that JSON.parse accepted; of duplicate `id` keys the last counts, as for JSON.parse.
 */
export function idNumberTexts(body: string): string[] {
  const id = lastTopLevelValue(body, 'id');
  return id === undefined ? [] : numberTexts(id);
}

/**
 * The text of the number `id` of `body` found the quick way, for the usual request: when the
 * body holds `"id"` once and no backslash, that is the top-level key (a string holding `"id"`
 * needs escapes, and an escaped key a backslash), and the number follows its colon. Otherwise
 * `undefined`, and idNumberTexts reads the body. `body` must be a JSON object whose `id` is a number.
 */
export function soleIdNumberText(body: string): string | undefined {
  if (body.includes('\\')) return undefined;
  const key = idKeyAt(body, 0);
  if (key === -1 || idKeyAt(body, key + 4) !== -1) return undefined;
  const start = skipSpace(body, skipSpace(body, key + 4) + 1); // past ':'
  return body.slice(start, endOfScalar(body, start));
}

/**
 * Where the next `"id"` of a body without backslashes starts, or -1. It searches for `id"` and
 * looks back for the quote: V8 searches for a pattern by its first character, and `"`, common
 * in JSON, makes a search for `"id"` several times slower than one for `id"`.
 */
function idKeyAt(body: string, from: number): number {
  for (let at = body.indexOf('id"', from + 1); at !== -1; at = body.indexOf('id"', at + 3)) {
    if (body.charCodeAt(at - 1) === QUOTE) return at - 1;
  }
  return -1;
}

/**
 * Whether the number `text` (a JSON number) comes back with the value it has: false when its
 * double is not finite, is an integer beyond ±(2^53-1), or is written back as another number.
 * Its spelling may change (`1.0` comes back `1`, `1E3` `1000`); its value, sign included, not.
 */
export function echoesExactly(text: string): boolean {
  const value = Number(text);
  if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) return false;
  const echoed = String(value);
  return text === echoed || decimalValue(text) === decimalValue(echoed);
}

/** A number's text written one way for its value: sign, significant digits, exponent (`-0` stays negative). */
function decimalValue(text: string): string {
  const [, sign, whole, fraction = '', exponent = '0'] = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(
    text,
  )!;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return `${sign}0`;
  const significant = digits.replace(/0+$/, '');
  // BigInt: an exponent such as 1e99999999999999999999 is valid JSON and must not round.
  const power = BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - significant.length);
  return `${sign}${significant}e${power}`;
}

/** The text of the last value of `key` among the members of the object `body`. */
function lastTopLevelValue(body: string, key: string): string | undefined {
  let found: string | undefined;
  let at = skipSpace(body, skipSpace(body, 0) + 1); // past '{'
  while (body[at] !== '}') {
    if (body[at] === ',') at = skipSpace(body, at + 1);
    const nameEnd = endOfString(body, at);
    const name = body.slice(at, nameEnd);
    const valueStart = skipSpace(body, skipSpace(body, nameEnd) + 1); // past ':'
    const valueEnd = endOfValue(body, valueStart);
    if (name.slice(1, -1) === key || (name.includes('\\') && JSON.parse(name) === key)) {
      found = body.slice(valueStart, valueEnd);
    }
    at = skipSpace(body, valueEnd);
  }
  return found;
}

/** The texts of the numbers in a JSON value, strings (object keys included) skipped. */
function numberTexts(value: string): string[] {
  const numbers: string[] = [];
  let at = 0;
  while (at < value.length) {
    const char = value[at]!;
    if (char === '"') {
      at = endOfString(value, at);
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      const end = endOfScalar(value, at);
      numbers.push(value.slice(at, end));
      at = end;
    } else {
      at++;
    }
  }
  return numbers;
}

/** Just past the value that starts at `start`: a string, a number or literal, or a nested array or object. */
function endOfValue(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return endOfString(text, start);
  if (first !== '{' && first !== '[') return endOfScalar(text, start);
  const structure = /["{}[\]]/g;
  structure.lastIndex = start;
  let depth = 0;
  for (;;) {
    const at = structure.exec(text)!.index;
    const char = text[at];
    if (char === '"') structure.lastIndex = endOfString(text, at);
    else if (char === '{' || char === '[') depth++;
    else if (--depth === 0) return at + 1;
  }
}

/** Just past the closing quote of the string that opens at `start`. */
function endOfString(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text[quote - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = text.indexOf('"', quote + 1);
  }
}

/** The end of a number or literal: the next delimiter. */
function endOfScalar(text: string, start: number): number {
  let at = start;
  while (at < text.length && !isDelimiter(text.charCodeAt(at))) at++;
  return at;
}

function skipSpace(text: string, start: number): number {
  let at = start;
  while (isSpace(text.charCodeAt(at))) at++;
  return at;
}

const QUOTE = 34;
/** JSON's whitespace: space, tab, line feed, carriage return. */
const isSpace = (code: number) => code === 32 || code === 9 || code === 10 || code === 13;
/** What ends a number or literal: `,` `}` `]` `:` or whitespace. */
const isDelimiter = (code: number) =>
  code === 44 || code === 125 || code === 93 || code === 58 || isSpace(code);
