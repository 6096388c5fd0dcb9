import { managementEndpoint } from '../../lambdas/rohrpost/delivery/connections';

describe('the management API endpoint', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  test('is the configured ROHRPOST_MANAGEMENT_ENDPOINT when set', () => {
    process.env.ROHRPOST_MANAGEMENT_ENDPOINT = 'http://127.0.0.1:3001/local';
    expect(managementEndpoint({ apiId: 'abc', stage: 'prod' })).toBe('http://127.0.0.1:3001/local');
  });

  test("is derived from the request's API id, stage and the function's region otherwise", () => {
    delete process.env.ROHRPOST_MANAGEMENT_ENDPOINT;
    process.env.AWS_REGION = 'eu-central-1';
    expect(managementEndpoint({ apiId: 'abc123', stage: 'prod' })).toBe(
      'https://abc123.execute-api.eu-central-1.amazonaws.com/prod',
    );
  });
});
