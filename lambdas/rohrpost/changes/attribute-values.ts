import type { AttributeValue } from 'aws-lambda';

/** DynamoDB's typed values as they arrive in stream records (binary as base64 text). */
export type StreamAttributeValue = AttributeValue;
export type StreamImage = Record<string, StreamAttributeValue>;

/** A plain JSON object. */
export type PlainItem = Record<string, unknown>;

/**
 * Turns a stream value into plain JSON: numbers become JSON numbers (kept as their decimal
 * string where a JavaScript number would change them), sets become arrays, binary stays base64.
 */
export function toPlainValue(value: StreamAttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return toNumber(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.B !== undefined) return value.B;
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(toNumber);
  if (value.BS !== undefined) return [...value.BS];
  if (value.L !== undefined) return value.L.map(toPlainValue);
  if (value.M !== undefined) return toPlainItem(value.M);
  throw new Error(`Unknown DynamoDB value type: ${Object.keys(value).join(', ') || 'none'}`);
}

export function toPlainItem(image: StreamImage): PlainItem {
  const item: PlainItem = {};
  for (const [name, value] of Object.entries(image)) item[name] = toPlainValue(value);
  return item;
}

/** A DynamoDB number as a JSON number, or as its string when a double cannot hold it exactly. */
export function toNumber(text: string): number | string {
  const number = Number(text);
  return Number.isFinite(number) && canonicalDecimal(String(number)) === canonicalDecimal(text)
    ? number
    : text;
}

/**
 * A decimal's value as sign, significant digits and exponent, so that `1.50`, `1.5` and
 * `15E-1` compare equal and `12345678901234567890` does not equal `12345678901234567000`.
 */
export function canonicalDecimal(text: string): string {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!match) return text;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`;
  const leading = digits.search(/[1-9]/);
  if (leading === -1) return '0';
  const significant = digits.slice(leading).replace(/0+$/, '');
  const scale = Number(exponent) + whole.length - leading;
  return `${sign === '-' ? '-' : ''}${significant}e${scale}`;
}
