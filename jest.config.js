/** Types are checked once by `npm run typecheck`; jest only transpiles (swc), per file. */
module.exports = {
  // Node's, and it deletes the tables each test file created in the shared DynamoDB Local.
  testEnvironment: '<rootDir>/test/support/environment.cjs',
  roots: ['<rootDir>/test'],
  // jose is published as ES modules only: swc turns it into CommonJS, as it does the tests.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  transform: {
    '^.+\\.(ts|js)$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
        },
      },
    ],
  },
  testMatch: ['**/*.test.ts'],
  // The README's examples import the client by its package name.
  moduleNameMapper: { '^@rohrpost/client$': '<rootDir>/client/src' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/aws-environment.ts'],
};
