import { defineConfig } from './lambdas/config';

/** The one configuration the CDK app deploys and `npm start` runs locally. */
export default defineConfig({
  websocket: { entry: 'lambdas/websocket.ts' },
});
