/** Longest group name in bytes: it is a DynamoDB partition key (2,048 bytes at most) with room to spare. */
export const MAX_GROUP_NAME_BYTES = 1024;

/** What is wrong with a group name, or `undefined` for a usable one: a non-empty string of at most 1,024 bytes. */
export function groupNameProblem(group: unknown): string | undefined {
  if (typeof group !== 'string' || group === '') {
    return `A group name is a non-empty string, not ${JSON.stringify(group)}.`;
  }
  const bytes = Buffer.byteLength(group);
  if (bytes > MAX_GROUP_NAME_BYTES) {
    return `A group name has at most ${MAX_GROUP_NAME_BYTES} bytes; this one has ${bytes}.`;
  }
  return undefined;
}
