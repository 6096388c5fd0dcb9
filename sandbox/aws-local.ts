import { RequestSignatureVerifier } from './request-signature';

/**
 * The AWS settings of everything that runs in the sandbox. DynamoDB Local accepts any
 * credentials; fixed ones keep the SDK from searching the machine for real ones, and the
 * management API checks signatures against them.
 */
export const LOCAL_REGION = 'us-east-1';

/** The account the sandbox's ARNs name. */
export const LOCAL_ACCOUNT_ID = '000000000000';

/** The credentials the sandbox gives its functions; its management API accepts no others. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Options for an SDK client the sandbox itself uses against a local endpoint. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
}

/** The environment Lambda would give a function, pointed at the sandbox's local services. */
export function localLambdaEnvironment(options: {
  functionName: string;
  memorySize: number;
  dynamodbEndpoint: string;
  /** Where the SDK's SQS client sends requests: the sandbox's dead-letter queue. */
  sqsEndpoint: string;
}): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: options.dynamodbEndpoint,
    AWS_ENDPOINT_URL_SQS: options.sqsEndpoint,
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memorySize),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    // Lambda runs Node 22+, so the SDK's warning about this machine's Node does not apply there.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(process.env.LOG_LEVEL && { LOG_LEVEL: process.env.LOG_LEVEL }),
  };
}

/** Checks that a request to a local AWS API is signed for `service` with the sandbox's credentials. */
export function localSignatureVerifier(service: string): RequestSignatureVerifier {
  return new RequestSignatureVerifier(LOCAL_CREDENTIALS, LOCAL_REGION, service);
}
