const { availableParallelism } = require('node:os');

/** Types are checked once by `npm run typecheck`; jest only transpiles (swc), per file. */
const shared = {
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
  setupFiles: ['<rootDir>/test/support/aws-environment.ts'],
  // Jest's 5 s default is a guess a loaded machine misses: a hang guard instead (hang-guard.ts).
  setupFilesAfterEnv: ['<rootDir>/test/support/test-timeout.ts'],
};

/**
 * Two projects: `unit` (the pure layers, handlers with test doubles, the CDK stack) needs no
 * Java; `integration` shares one DynamoDB Local across its files. `jest --selectProjects unit`
 * runs the first alone.
 */
module.exports = {
  // Two workers even on two cores (Jest's default there is one, in band): the tests spend much of
  // their time waiting for DynamoDB Local, Chromium and child processes, and beside other work the
  // suite gets a fairer share of the cores: beside two CPU burners and other work, jest took 376 s
  // with two workers, 511 s with one.
  maxWorkers: Math.max(2, availableParallelism() - 1),
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/unit', '<rootDir>/test/infrastructure'],
    },
    {
      ...shared,
      displayName: 'integration',
      // Node's, and it deletes the tables each test file created in the shared DynamoDB Local.
      testEnvironment: '<rootDir>/test/support/environment.cjs',
      roots: ['<rootDir>/test/integration'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
