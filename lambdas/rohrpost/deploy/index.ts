/**
 * rohrpost's deploy-side entry: what the CDK construct (lib/) and the local sandbox (sandbox/)
 * use of the framework. Handler modules use the other entry, `lambdas/rohrpost`.
 */
export { bundleFunction, SDK_CHUNK, WatchedBundle } from './bundle';
export type { WatchedBundleOptions } from './bundle';
