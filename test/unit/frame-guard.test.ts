import { FrameSizeGuard } from '../../sandbox/frame-guard';

/** A client frame: masked, as clients must send them. */
function frame(payloadLength: number, opcode = 0x1, fin = true): Buffer {
  let header: Buffer;
  if (payloadLength < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payloadLength]);
  } else if (payloadLength < 65536) {
    header = Buffer.alloc(4);
    header.writeUInt8((fin ? 0x80 : 0) | opcode, 0);
    header.writeUInt8(0x80 | 126, 1);
    header.writeUInt16BE(payloadLength, 2);
  } else {
    header = Buffer.alloc(10);
    header.writeUInt8((fin ? 0x80 : 0) | opcode, 0);
    header.writeUInt8(0x80 | 127, 1);
    header.writeBigUInt64BE(BigInt(payloadLength), 2);
  }
  return Buffer.concat([header, Buffer.from([1, 2, 3, 4]), Buffer.alloc(payloadLength, 0x61)]);
}

function feedInChunks(guard: FrameSizeGuard, bytes: Buffer, chunkSize: number): boolean {
  let ok = true;
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    ok = guard.accept(bytes.subarray(offset, offset + chunkSize));
  }
  return ok;
}

describe('FrameSizeGuard', () => {
  const limit = 32 * 1024;

  test.each([0, 1, 125, 126, 65535, 32 * 1024])('a frame of %i bytes is within the limit', (size) => {
    expect(new FrameSizeGuard(Math.max(limit, size)).accept(frame(size))).toBe(true);
  });

  test.each([32 * 1024 + 1, 65536, 1 << 20])('a frame of %i bytes is over the limit', (size) => {
    expect(new FrameSizeGuard(limit).accept(frame(size))).toBe(false);
  });

  test.each([1, 2, 3, 7, 1000])('frames split over %i-byte chunks are read correctly', (chunkSize) => {
    const stream = Buffer.concat([frame(100), frame(30_000, 0x1, false), frame(30_000, 0x0), frame(5)]);
    expect(feedInChunks(new FrameSizeGuard(limit), stream, chunkSize)).toBe(true);
    const withBigFrame = Buffer.concat([frame(100), frame(40_000), frame(5)]);
    expect(feedInChunks(new FrameSizeGuard(limit), withBigFrame, chunkSize)).toBe(false);
  });

  test('once over the limit, it stays over', () => {
    const guard = new FrameSizeGuard(limit);
    expect(guard.accept(frame(limit + 1))).toBe(false);
    expect(guard.accept(frame(1))).toBe(false);
  });
});
