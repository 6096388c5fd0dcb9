import type * as NodeCrypto from 'node:crypto';

/**
 * node:crypto, loaded when first used: loaded with the bundle it would be about half of a cold
 * start (npm run bench:cold-start), and a function that serves a ping never needs it. A lint
 * rule keeps the framework's runtime code from importing it at load.
 */
let loaded: typeof NodeCrypto | undefined;
export const nodeCrypto = () => (loaded ??= process.getBuiltinModule('node:crypto'));
