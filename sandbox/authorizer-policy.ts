/** Evaluates the IAM policy a Lambda authorizer returns, as API Gateway does for `$connect`. */

interface Statement {
  Effect?: unknown;
  Action?: unknown;
  Resource?: unknown;
}

/** True when some statement allows `execute-api:Invoke` on `methodArn` and none denies it. */
export function policyAllows(policyDocument: unknown, methodArn: string): boolean {
  const statements = statementsOf(policyDocument);
  const applies = (statement: Statement) =>
    listOf(statement.Action).some((action) => matches(action, 'execute-api:Invoke')) &&
    listOf(statement.Resource).some((resource) => matches(resource, methodArn));
  const relevant = statements.filter(applies);
  return relevant.some((s) => s.Effect === 'Allow') && !relevant.some((s) => s.Effect === 'Deny');
}

function statementsOf(policyDocument: unknown): Statement[] {
  if (typeof policyDocument !== 'object' || policyDocument === null) return [];
  const statement = (policyDocument as { Statement?: unknown }).Statement;
  return (Array.isArray(statement) ? statement : [statement]).filter(
    (s): s is Statement => typeof s === 'object' && s !== null,
  );
}

function listOf(value: unknown): string[] {
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

/** IAM wildcards: `*` any run of characters, `?` any one; matching ignores case for actions only. */
function matches(pattern: string, value: string): boolean {
  const isAction = !value.startsWith('arn:');
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, isAction ? 'i' : '').test(value);
}
