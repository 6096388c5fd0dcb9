import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'cdk.out/',
      'coverage/',
      'client/dist/',
      'test-results/',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['lambdas/**/*.ts'],
    // Modules that load the AWS SDK are required where first used, so that a cold start that
    // serves a ping never loads it (npm run bench:cold-start); their types are imported as types.
    rules: {
      '@typescript-eslint/no-require-imports': ['error', { allow: ['^\\.\\.?/[a-z/-]+$'] }],
    },
  },
  {
    files: ['lambdas/rohrpost/protocol/**/*.ts'],
    // The protocol is the pure layer: it imports nothing from the layers that do I/O.
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../*'], message: 'protocol/ imports only from protocol/.' }] },
      ],
    },
  },
  {
    files: [
      'lambdas/*.ts',
      'lambdas/handlers/**/*.ts',
      'lambdas/notification-hooks/**/*.ts',
      'rohrpost.config.ts',
    ],
    // The application uses the framework through its public entry only.
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/rohrpost/*', '!**/rohrpost.config'],
              message: "Import from the framework's entry ('../rohrpost'), not its modules.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    // jest's asymmetric matchers (expect.any, expect.objectContaining) are typed `any`.
    rules: { '@typescript-eslint/unbound-method': 'off', '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
);
