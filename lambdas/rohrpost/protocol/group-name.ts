/** Longest group name in bytes: it is a DynamoDB partition key (2,048 bytes at most) with room to spare. */
export const MAX_GROUP_NAME_BYTES = 1024;

/**
 * What is wrong with a group name, or `undefined` for a usable one: a non-empty string of at
 * most 1,024 bytes, without control characters (U+0000 to U+001F: the membership table
 * separates a big group's shards from its name with one).
 */
export function groupNameProblem(group: unknown): string | undefined {
  if (typeof group !== 'string' || group === '') {
    return `A group name is a non-empty string, not ${JSON.stringify(group)}.`;
  }
  const bytes = Buffer.byteLength(group);
  if (bytes > MAX_GROUP_NAME_BYTES) {
    return `A group name has at most ${MAX_GROUP_NAME_BYTES} bytes; this one has ${bytes}.`;
  }
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f]/.test(group)) return 'A group name has no control characters (U+0000 to U+001F).';
  return undefined;
}
