import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { BuildContext } from 'esbuild';
import * as esbuild from 'esbuild';
import { InputWatcher } from '../lambdas/rohrpost/deploy';
import { serveSignIn } from './sign-in';

/**
 * A web page served at the sandbox's root, on the WebSocket's port: a folder's `index.html` at
 * `/` and its `app.ts`, bundled for browsers by esbuild, at `/app.js`. With `watch`, both are
 * read or rebuilt when they change, so a reload shows the change.
 */
export class PageServer {
  private script = '';
  private failure: string | undefined;
  private inputs: InputWatcher | undefined;

  private constructor(
    private readonly directory: string,
    private readonly context: BuildContext,
  ) {}

  static async start(directory: string, options: { readonly watch: boolean }): Promise<PageServer> {
    const built: { page?: PageServer } = {};
    const context = await esbuild.context({
      entryPoints: [join(directory, 'app.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      sourcemap: 'inline',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [{ name: 'page', setup: (build) => build.onEnd((result) => built.page?.built(result)) }],
    });
    const page = new PageServer(directory, context);
    built.page = page;
    if (options.watch) page.inputs = new InputWatcher(() => context.rebuild());
    await context.rebuild().catch(() => undefined); // its errors arrive through onEnd
    if (page.failure) {
      await page.inputs?.close();
      await context.dispose();
      throw new Error(`Could not build the page in ${directory}:\n${page.failure}`);
    }
    return page;
  }

  /**
   * Serves `GET /`, `GET /app.js`, and the page's sign-in for a sandbox without
   * `authorizer.jwt`: with it, the local issuer answers first (the gateway asks its services
   * before the page). Returns false, having written nothing, for anything else.
   */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    if (serveSignIn(request, response, undefined)) return true;
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/' || path === '/index.html') {
      const html = readFileSync(join(this.directory, 'index.html'), 'utf8');
      return this.send(response, 'text/html; charset=utf-8', html, request.method);
    }
    if (path === '/app.js') {
      if (this.failure)
        return this.send(response, 'text/plain; charset=utf-8', this.failure, request.method, 500);
      return this.send(response, 'text/javascript; charset=utf-8', this.script, request.method);
    }
    return false;
  }

  async stop(): Promise<void> {
    await this.inputs?.close();
    await this.context.dispose();
  }

  private built(result: Pick<esbuild.BuildResult, 'errors' | 'outputFiles' | 'metafile'>): void {
    this.inputs?.watch(result.metafile);
    if (result.errors.length > 0) {
      this.failure = esbuild.formatMessagesSync(result.errors, { kind: 'error' }).join('\n');
      return;
    }
    this.failure = undefined;
    this.script = result.outputFiles?.[0]?.text ?? '';
  }

  private send(response: ServerResponse, type: string, body: string, method: string, status = 200): true {
    response.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy':
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:",
    });
    response.end(method === 'HEAD' ? undefined : body);
    return true;
  }
}
