/**
 * The environment variables the functions read. The CDK construct and the local sandbox set
 * them from this one list, so the functions run unchanged in both places.
 */
export const EnvironmentVariables = {
  /** Base URL of the API Gateway management API, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  managementEndpoint: 'ROHRPOST_MANAGEMENT_ENDPOINT',
} as const;

/** The value of a variable, or `undefined` when unset or empty. */
export function readEnvironment(name: (typeof EnvironmentVariables)[keyof typeof EnvironmentVariables]) {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}
