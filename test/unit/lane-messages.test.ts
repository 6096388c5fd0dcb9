import { parseLaneJob, splitEntry, wakeEntries } from '../../lambdas/rohrpost/delivery/lane-messages';

describe('lane messages', () => {
  test('one wake-up per shard, each in its own message group, deduplicated by group, epoch, seq and shard', () => {
    const entries = wakeEntries('notes-all', { epoch: 'e1', seq: 7 }, 4);
    expect(entries.map((entry) => parseLaneJob(entry.body))).toEqual(
      [0, 1, 2, 3].map((shard) => ({ kind: 'deliver', group: 'notes-all', shard, epoch: 'e1', seq: 7 })),
    );
    expect(new Set(entries.map((entry) => entry.messageGroupId)).size).toBe(4);
    expect(new Set(entries.map((entry) => entry.deduplicationId)).size).toBe(4);
    // The same wake-up sent again (a retried record) has the same ids: SQS delivers it once.
    expect(wakeEntries('notes-all', { epoch: 'e1', seq: 7 }, 4)).toEqual(entries);
    expect(wakeEntries('notes-all', { epoch: 'e1', seq: 8 }, 1)[0]!.deduplicationId).not.toBe(
      entries[0]!.deduplicationId,
    );
  });

  test("ids fit SQS's rules whatever the group's name", () => {
    const long = 'ü'.repeat(500);
    for (const entry of [...wakeEntries(long, { epoch: 'e', seq: 1 }, 2), splitEntry(long, 3)]) {
      for (const id of [entry.messageGroupId, entry.deduplicationId]) {
        expect(id.length).toBeLessThanOrEqual(128);
        expect(id).toMatch(/^[\x21-\x7e]+$/);
      }
    }
  });

  test("a split request has its group's own message group, apart from its lanes", () => {
    const [lane] = wakeEntries('g', { epoch: 'e', seq: 1 }, 1);
    const request = splitEntry('g', 2);
    expect(request.messageGroupId).not.toBe(lane!.messageGroupId);
    expect(parseLaneJob(request.body)).toEqual({ kind: 'split', group: 'g', version: 2 });
  });

  test('a body that is no lane job is refused with what is wrong', () => {
    expect(() => parseLaneJob('{"kind":"deliver","group":"g","shard":-1,"epoch":"e","seq":1}')).toThrow(
      /shard, an epoch and a seq/,
    );
    expect(() => parseLaneJob('{"kind":"other","group":"g"}')).toThrow(/Not a lane job/);
    expect(() => parseLaneJob('{"kind":"split"}')).toThrow(/names its group/);
    expect(() => parseLaneJob('not json')).toThrow(SyntaxError);
  });
});
