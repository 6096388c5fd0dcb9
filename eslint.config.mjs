import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** node:crypto loads in about as long as the rest of a function: the runtime loads it when first used. */
const NODE_CRYPTO_AT_LOAD = {
  name: 'node:crypto',
  message:
    'Use nodeCrypto() from protocol/node-crypto.ts: it loads node:crypto when first used, not at every cold start.',
  allowTypeImports: true,
};

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
    files: ['lambdas/rohrpost/**/*.ts'],
    ignores: ['lambdas/rohrpost/deploy/**'],
    // Code that runs in Lambda: the deploy side (the plan, the bundler and esbuild) is never bundled into it.
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/deploy', '**/deploy/*'], message: 'Runtime code imports nothing from deploy/.' },
          ],
          paths: [NODE_CRYPTO_AT_LOAD],
        },
      ],
    },
  },
  {
    files: ['lambdas/rohrpost/protocol/**/*.ts'],
    // The protocol is the pure layer: it imports nothing from the layers that do I/O.
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../*'], message: 'protocol/ imports only from protocol/.' }],
          paths: [NODE_CRYPTO_AT_LOAD],
        },
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
    files: ['lib/**/*.ts', 'sandbox/**/*.ts', 'bin/**/*.ts', 'tools/**/*.ts'],
    // The CDK construct, the sandbox and the tools read what to deploy from the framework's
    // deploy-side entry, never from the handlers' entry or the framework's modules.
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)lambdas/rohrpost(/(?!deploy$).+)?$',
              message: "Import from the framework's deploy-side entry ('../lambdas/rohrpost/deploy').",
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
