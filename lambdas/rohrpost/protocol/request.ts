import { echoesExactly, idNumberTexts, soleIdNumberText } from './exact-numbers';
import type { JsonValue } from './message';

/** A validated rohrpost request: an object with `type` and `id` (PROTOCOL.md §1). */
export interface RohrpostRequest {
  readonly id: JsonValue;
  readonly type: JsonValue;
  readonly data?: JsonValue;
  /** Other top-level fields reach handlers too (rohrpost-js sends `auth_jwt`). */
  readonly [field: string]: JsonValue | undefined;
}

/** How deeply a message may nest arrays and objects, itself being the first level. */
export const MAX_NESTING = 100;
/** The shortest text nested deeper: an opening and a closing bracket per level. Shorter frames need no walk. */
const SHORTEST_TOO_DEEP = 2 * (MAX_NESTING + 1);

/** The exact error texts of PROTOCOL.md §2; clients match on them. */
export const ProtocolErrors = {
  emptyMessage: 'Received empty message.',
  invalidJson: (parserMessage: string) => `Could not decode JSON message. Error: ${parserMessage}`,
  tooDeep: `Message nested deeper than ${MAX_NESTING} levels.`,
  notAnObject: 'Expected a JSON object as message.',
  missingType: "Missing required field 'type'.",
  missingId: "Missing required field 'id'.",
  inexactId:
    "Field 'id' holds a number that cannot be echoed exactly (an integer beyond 2^53-1, " +
    "a number beyond a double's range or precision, or -0): send it as a string.",
  unknownType: (typeName: string) => `Unknown message type '${typeName}'.`,
  messageTooLarge: 'Message too large: API Gateway delivers at most 131072 bytes.',
  internal: 'Internal server error.',
} as const;

export type ParsedFrame =
  | { readonly ok: true; readonly request: RohrpostRequest; readonly typeName: string }
  | { readonly ok: false; readonly error: string };

/**
 * Validates one frame's text in the order of PROTOCOL.md §2. On success `typeName` is the key
 * to look the handler up by: the type itself, or the JSON text of a type that is not a string.
 */
export function parseFrame(body: string | undefined): ParsedFrame {
  if (body === undefined || body === '') return { ok: false, error: ProtocolErrors.emptyMessage };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { ok: false, error: ProtocolErrors.invalidJson((error as Error).message) };
  }
  if (body.length >= SHORTEST_TOO_DEEP && nestedDeeperThan(value, MAX_NESTING)) {
    return { ok: false, error: ProtocolErrors.tooDeep };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: ProtocolErrors.notAnObject };
  }
  if (!Object.hasOwn(value, 'type')) return { ok: false, error: ProtocolErrors.missingType };
  if (!Object.hasOwn(value, 'id')) return { ok: false, error: ProtocolErrors.missingId };
  const request = value as RohrpostRequest;
  if (holdsNumber(request.id) && !idNumbersEchoExactly(request.id, body)) {
    return { ok: false, error: ProtocolErrors.inexactId };
  }
  return { ok: true, request, typeName: typeNameOf(request.type) };
}

/** The string form a type is looked up and reported by. */
export function typeNameOf(type: JsonValue): string {
  return typeof type === 'string' ? type : JSON.stringify(type);
}

/**
 * Whether `value` nests arrays and objects more than `levels` deep; it looks no deeper than that.
 * It runs on every message: it walks the children in place (no array of them) and calls itself
 * for arrays and objects only.
 */
function nestedDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (const child of value as unknown[]) {
      if (typeof child === 'object' && child !== null && nestedDeeperThan(child, levels - 1)) return true;
    }
    return false;
  }
  // JSON.parse makes plain objects; `for...in` visits their keys without making an array of them.
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (typeof child === 'object' && child !== null && nestedDeeperThan(child, levels - 1)) return true;
  }
  return false;
}

/** Whether every number of the id comes back as the client wrote it; a plain number id is found quickly. */
function idNumbersEchoExactly(id: JsonValue, body: string): boolean {
  const text = typeof id === 'number' ? soleIdNumberText(body) : undefined;
  return text !== undefined ? echoesExactly(text) : idNumberTexts(body).every(echoesExactly);
}

/** Whether a JSON value is or contains a number: only then is the request's text read again. */
function holdsNumber(value: JsonValue): boolean {
  if (typeof value === 'number') return true;
  if (typeof value !== 'object' || value === null) return false;
  return (Array.isArray(value) ? value : Object.values(value)).some(holdsNumber);
}
