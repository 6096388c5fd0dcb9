/**
 * What every function's bundle runs before anything else (lambdas/rohrpost/deploy/bundle.ts
 * injects it): `__filename` is then the bundle's `index.js`.
 */
import { mapStackTracesLazily } from './lazy-source-maps';

mapStackTracesLazily(__filename);
