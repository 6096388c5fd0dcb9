/**
 * The replies a line-based client still waits for. The server answers every request once:
 * with the request's `id`, or, when it could not read one (not JSON, no `id`, an id it refuses),
 * with an error that has none. Other messages (updates, a handler's own) are not replies.
 */
export class DueReplies {
  /** Per request sent and not answered: its id as JSON text, or `undefined` when it has none to echo. */
  private readonly due: Array<string | undefined> = [];

  get count(): number {
    return this.due.length;
  }

  /** A line was sent. */
  sent(line: string): void {
    this.due.push(idOf(line));
  }

  /** A message arrived: it answers the request with its id, or, without an id, one that had none (else any). */
  received(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return;
    const answered =
      'id' in message
        ? this.due.indexOf(JSON.stringify(message.id))
        : Math.max(this.due.indexOf(undefined), 0);
    if (answered !== -1) this.due.splice(answered, 1);
  }
}

/** The id a reply to `line` would carry, as JSON text. */
function idOf(line: string): string | undefined {
  try {
    const request: unknown = JSON.parse(line);
    if (typeof request === 'object' && request !== null && 'id' in request && 'type' in request) {
      return JSON.stringify(request.id);
    }
  } catch {
    // Not JSON: the error reply carries no id.
  }
  return undefined;
}
