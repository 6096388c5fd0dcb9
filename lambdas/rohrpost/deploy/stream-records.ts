import type {
  AttributeValue as SdkAttributeValue,
  _Record as SdkRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';

export interface LambdaRecordOptions {
  readonly region: string;
  readonly streamArn: string;
  /**
   * When the change happened, epoch milliseconds, where the stream's own time is too coarse
   * (DynamoDB Local rounds it down to the minute). @default the record's, in whole seconds
   */
  readonly createdAt?: number;
}

/**
 * A DynamoDB Streams record, as the SDK reads it, in the shape Lambda hands it to a function
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): JSON attribute values with
 * binary as base64, times in epoch seconds, the stream's ARN, and a TTL deletion as a `REMOVE`
 * by the DynamoDB service.
 */
export function lambdaStreamRecord(record: SdkRecord, options: LambdaRecordOptions): DynamoDBRecord {
  const stream = record.dynamodb ?? {};
  const image = (values: Record<string, SdkAttributeValue> | undefined) =>
    values && Object.fromEntries(Object.entries(values).map(([name, value]) => [name, lambdaValue(value)]));
  // DynamoDB Local reports a TTL deletion under an event name of its own.
  const expired =
    !['INSERT', 'MODIFY', 'REMOVE'].includes(record.eventName ?? '') && !stream.NewImage && !!stream.OldImage;
  const createdAt = options.createdAt ?? (stream.ApproximateCreationDateTime ?? new Date()).getTime();
  return {
    eventID: record.eventID,
    eventName: expired ? 'REMOVE' : record.eventName,
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: options.region,
    dynamodb: {
      ApproximateCreationDateTime:
        options.createdAt === undefined ? Math.floor(createdAt / 1000) : createdAt / 1000,
      Keys: image(stream.Keys),
      ...(stream.NewImage && { NewImage: image(stream.NewImage) }),
      ...(stream.OldImage && { OldImage: image(stream.OldImage) }),
      SequenceNumber: stream.SequenceNumber,
      SizeBytes: stream.SizeBytes,
      StreamViewType: stream.StreamViewType,
    },
    eventSourceARN: options.streamArn,
    ...(expired && { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } }),
    ...(record.userIdentity && {
      userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId },
    }),
  };
}

function lambdaValue(value: SdkAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((bytes) => Buffer.from(bytes).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(lambdaValue) };
  if (value.M !== undefined) {
    return {
      M: Object.fromEntries(Object.entries(value.M).map(([name, inner]) => [name, lambdaValue(inner)])),
    };
  }
  return value as AttributeValue;
}
