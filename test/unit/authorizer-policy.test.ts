import { policyAllows } from '../../sandbox/authorizer-policy';

const arn = 'arn:aws:execute-api:us-east-1:000000000000:sandbox/local/$connect';
const statement = (Effect: string, Resource: unknown = arn, Action: unknown = 'execute-api:Invoke') => ({
  Effect,
  Action,
  Resource,
});

describe('policyAllows', () => {
  test.each([
    ['an Allow for the method', [statement('Allow')], true],
    [
      'an Allow with a wildcard resource',
      [statement('Allow', 'arn:aws:execute-api:us-east-1:*:sandbox/*')],
      true,
    ],
    ['an Allow with a wildcard action', [statement('Allow', arn, 'execute-api:*')], true],
    ['an Allow for any resource', [statement('Allow', '*')], true],
    ['an Allow in a list', [statement('Allow', ['arn:other', arn])], true],
    ['a Deny', [statement('Deny')], false],
    ['an Allow and a Deny', [statement('Allow'), statement('Deny', '*')], false],
    ['an Allow for another stage', [statement('Allow', arn.replace('/local/', '/prod/'))], false],
    ['an Allow for another action', [statement('Allow', arn, 'execute-api:ManageConnections')], false],
    ['no statements', [], false],
  ])('%s: %s', (_case, statements, allowed) => {
    expect(policyAllows({ Version: '2012-10-17', Statement: statements }, arn)).toBe(allowed);
  });

  test.each([[undefined], [null], ['Allow'], [{ Statement: 'Allow' }]])(
    'a malformed policy %j allows nothing',
    (policy) => {
      expect(policyAllows(policy, arn)).toBe(false);
    },
  );

  test('a single statement object counts like a list of one', () => {
    expect(policyAllows({ Statement: statement('Allow') }, arn)).toBe(true);
  });
});
