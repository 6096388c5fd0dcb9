import type { JsonValue } from './message';

/** A validated rohrpost request: an object with `type` and `id` (PROTOCOL.md §1). */
export interface RohrpostRequest {
  readonly id: JsonValue;
  readonly type: JsonValue;
  readonly data?: JsonValue;
  /** Other top-level fields reach handlers too (rohrpost-js sends `auth_jwt`). */
  readonly [field: string]: JsonValue | undefined;
}

/** The exact error texts of PROTOCOL.md §2; clients match on them. */
export const ProtocolErrors = {
  emptyMessage: 'Received empty message.',
  invalidJson: (parserMessage: string) => `Could not decode JSON message. Error: ${parserMessage}`,
  notAnObject: 'Expected a JSON object as message.',
  missingType: "Missing required field 'type'.",
  missingId: "Missing required field 'id'.",
  unknownType: (typeName: string) => `Unknown message type '${typeName}'.`,
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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: ProtocolErrors.notAnObject };
  }
  if (!Object.hasOwn(value, 'type')) return { ok: false, error: ProtocolErrors.missingType };
  if (!Object.hasOwn(value, 'id')) return { ok: false, error: ProtocolErrors.missingId };
  const request = value as RohrpostRequest;
  return { ok: true, request, typeName: typeNameOf(request.type) };
}

/** The string form a type is looked up and reported by. */
export function typeNameOf(type: JsonValue): string {
  return typeof type === 'string' ? type : JSON.stringify(type);
}
