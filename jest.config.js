/** Types are checked once by `npm run typecheck`; jest only transpiles (swc), per file. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
        },
      },
    ],
  },
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/support/aws-environment.ts'],
};
