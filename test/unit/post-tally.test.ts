import { PostTally } from '../../lambdas/rohrpost/delivery/post-tally';
import { ManagementApiError } from '../../lambdas/rohrpost/delivery/signed-connections';

describe('a tally of posts', () => {
  test('tells throttling, from SignedConnections or from the SDK, from other failures', () => {
    const tally = new PostTally();
    tally.recordFailed(new ManagementApiError(429, 'LimitExceededException', 'Rate exceeded'));
    tally.recordFailed(Object.assign(new Error('Rate exceeded'), { $metadata: { httpStatusCode: 429 } }));
    tally.recordFailed(new ManagementApiError(500, 'InternalServerError', 'oops'));
    tally.recordFailed(Object.assign(new Error('Forbidden'), { $metadata: { httpStatusCode: 403 } }));
    tally.recordFailed('not even an error');
    expect({ throttled: tally.throttled, failed: tally.failed }).toEqual({ throttled: 2, failed: 3 });
  });

  test('keeps the first and last delivery, and adds up others: counts summed, the earliest first, the latest last', () => {
    const early = new PostTally();
    early.recordDelivered(1_000);
    early.recordDelivered(3_000);
    const late = new PostTally();
    late.messages = 1;
    late.gone = 2;
    late.recordDelivered(2_000);
    late.recordDelivered(5_000);
    const none = new PostTally();

    const total = new PostTally();
    for (const tally of [none, late, early]) total.add(tally);
    expect(total).toMatchObject({
      messages: 1,
      delivered: 4,
      gone: 2,
      firstDeliveredAt: 1_000,
      lastDeliveredAt: 5_000,
    });
    const empty = new PostTally();
    empty.add(none);
    expect([empty.firstDeliveredAt, empty.lastDeliveredAt]).toEqual([undefined, undefined]);
  });
});
