/**
 * The environment variables the functions read. The CDK construct and the local sandbox both
 * set them through `functionEnvironment`, so the functions run unchanged in both places.
 */
export const EnvironmentVariables = {
  /** Base URL of the API Gateway management API, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  managementEndpoint: 'ROHRPOST_MANAGEMENT_ENDPOINT',
  /** Name of the membership table. */
  membershipTable: 'ROHRPOST_MEMBERSHIP_TABLE',
  /** JSON object from table label (as in rohrpost.config.ts) to table name. */
  tableNames: 'ROHRPOST_TABLE_NAMES',
} as const;

type VariableName = (typeof EnvironmentVariables)[keyof typeof EnvironmentVariables];

export interface FunctionEnvironment {
  readonly managementEndpoint: string;
  readonly membershipTable: string;
  /** The application tables this function may use, by label. */
  readonly tableNames: Readonly<Record<string, string>>;
}

/** The variables for a function; values may be CDK tokens. */
export function functionEnvironment(values: FunctionEnvironment): Record<string, string> {
  return {
    [EnvironmentVariables.managementEndpoint]: values.managementEndpoint,
    [EnvironmentVariables.membershipTable]: values.membershipTable,
    [EnvironmentVariables.tableNames]: JSON.stringify(values.tableNames),
  };
}

/** The value of a variable, or `undefined` when unset or empty. */
export function readEnvironment(name: VariableName): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The value of a variable the function cannot work without. */
export function requireEnvironment(name: VariableName): string {
  const value = readEnvironment(name);
  if (value === undefined) {
    throw new Error(
      `${name} is not set: deploy with the rohrpost CDK construct or run in the sandbox (npm start).`,
    );
  }
  return value;
}
