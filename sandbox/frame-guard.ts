/**
 * Watches the raw bytes a client sends for a WebSocket frame longer than `limit`. API Gateway
 * closes a connection with 1009 on a frame over 32 KB even when the message would fit in
 * 128 KB; browsers send every message as one frame, so this is the limit they meet first.
 */
export class FrameSizeGuard {
  private readonly header = Buffer.alloc(14);
  private headerBytes = 0;
  private payloadLeft = 0;
  private tripped = false;

  constructor(private readonly limit: number) {}

  /** Reads the next bytes of the stream; false once a frame over the limit has begun. */
  accept(chunk: Buffer): boolean {
    let offset = 0;
    while (!this.tripped && offset < chunk.length) {
      if (this.payloadLeft > 0) {
        const skipped = Math.min(this.payloadLeft, chunk.length - offset);
        this.payloadLeft -= skipped;
        offset += skipped;
        continue;
      }
      this.header[this.headerBytes++] = chunk[offset++]!;
      const needed = this.headerLength();
      if (needed !== undefined && this.headerBytes === needed) this.readHeader();
    }
    return !this.tripped;
  }

  /** The header's full length, once its first two bytes are in. */
  private headerLength(): number | undefined {
    if (this.headerBytes < 2) return undefined;
    const lengthCode = this.header[1]! & 0x7f;
    const masked = (this.header[1]! & 0x80) !== 0;
    return 2 + (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0) + (masked ? 4 : 0);
  }

  private readHeader(): void {
    const lengthCode = this.header[1]! & 0x7f;
    let length: number;
    if (lengthCode === 126) length = this.header.readUInt16BE(2);
    else if (lengthCode === 127) length = Number(this.header.readBigUInt64BE(2));
    else length = lengthCode;
    this.headerBytes = 0;
    if (length > this.limit) this.tripped = true;
    else this.payloadLeft = length;
  }
}
