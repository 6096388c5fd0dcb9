/**
 * `npm start`: runs the project locally, API Gateway, Lambda and DynamoDB Local included.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import config from '../rohrpost.config';
import { consoleReporter } from './console-reporter';
import { JavaMissingError } from './dynamodb-local';
import { METRICS_PATH } from './metrics-summary';
import { watchConfig } from './config-file';
import { publishRunningSandbox } from './running-sandbox';
import type { Sandbox } from './sandbox';
import { startSandbox } from './sandbox';

/** The configuration the sandbox runs, and follows while it runs. */
const CONFIG_FILE = join(__dirname, '..', 'rohrpost.config.ts');

/** The stack bin/app.ts synthesizes. */
const STACK_NAME = 'Rohrpost';

/** The example application's page, served at the sandbox's root URL. */
const DEMO_PAGE = join(__dirname, '..', 'demo');

// Lambda runs Node 22+; the SDK's notice about this machine's Node version is not actionable here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const HELP = `Usage: npm start -- [options]

Runs rohrpost locally: the WebSocket API and its management API as API Gateway serves them,
the functions as Lambda runs them, and DynamoDB Local with the configured tables.

Options:
  --port <n>                 WebSocket and management API port (default 3001; 0 picks a free one)
  --dynamodb-port <n>        DynamoDB Local's port (default: a free one)
  --dynamodb-endpoint <url>  use the DynamoDB at this URL instead of starting DynamoDB Local
  --stage <name>             API Gateway stage name (default local)
  --connection-rate <n>      new connections a second before handshakes are refused with 429, as
                             API Gateway's account quota (default 500; 0 for no limit)
  --post-rate <n>            management API requests a second, in bursts of n/2, before they are
                             answered 429, as the account's request quota (default 10000; 0 for no limit)
  --assembly <dir>           run the functions of a synthesized stack (npx cdk synth's cdk.out), the
                             code cdk deploy uploads, instead of bundling their entries
  --function-idle-timeout <s>
                             shut a function instance down after this many idle seconds, as
                             Lambda does with an idle execution environment (default 600)
  --quiet                    log only failures, not every frame and invocation
  --no-watch                 do not reload functions when their source files change
  -h, --help                 show this help
`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '3001' },
      'dynamodb-port': { type: 'string' },
      'dynamodb-endpoint': { type: 'string' },
      stage: { type: 'string', default: 'local' },
      'connection-rate': { type: 'string', default: '500' },
      'post-rate': { type: 'string', default: '10000' },
      assembly: { type: 'string' },
      'function-idle-timeout': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      'no-watch': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const port = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!Number.isInteger(number) || number < 0 || number > 65535) {
      throw new Error(`--${name} must be a port number from 0 to 65535, not '${value}'.`);
    }
    return number;
  };
  const rate = Number(values['connection-rate']);
  if (!Number.isInteger(rate) || rate < 0) {
    throw new Error(
      `--connection-rate must be a whole number of connections a second, not '${values['connection-rate']}'.`,
    );
  }
  const postRate = Number(values['post-rate']);
  if (!Number.isInteger(postRate) || postRate < 0) {
    throw new Error(`--post-rate must be a whole number of requests a second, not '${values['post-rate']}'.`);
  }
  const idleTimeout = values['function-idle-timeout'];
  const idleSeconds = idleTimeout === undefined ? undefined : Number(idleTimeout);
  if (idleSeconds !== undefined && !(idleSeconds > 0)) {
    throw new Error(`--function-idle-timeout must be a number of seconds above 0, not '${idleTimeout}'.`);
  }
  return {
    help: values.help,
    functionIdleTimeoutMs: idleSeconds === undefined ? undefined : idleSeconds * 1000,
    newConnectionsPerSecond: rate === 0 ? Infinity : rate,
    postRate:
      postRate === 0
        ? { rate: Infinity, burst: Infinity }
        : { rate: postRate, burst: Math.max(1, Math.floor(postRate / 2)) },
    port: port('port', values.port)!,
    dynamodb: values['dynamodb-endpoint']
      ? { endpoint: values['dynamodb-endpoint'] }
      : { port: port('dynamodb-port', values['dynamodb-port']) },
    stage: values.stage,
    quiet: values.quiet,
    assembly: values.assembly,
    watch: !values['no-watch'] && values.assembly === undefined,
  };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (options.help) return void process.stdout.write(HELP);

  const started = Date.now();
  const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({
      config,
      page: existsSync(DEMO_PAGE) ? DEMO_PAGE : undefined,
      port: options.port,
      stage: options.stage,
      dynamodb: options.dynamodb,
      watch: options.watch,
      ...(options.assembly && { assembly: { directory: resolve(options.assembly), stack: STACK_NAME } }),
      limits: { newConnectionsPerSecond: options.newConnectionsPerSecond },
      functionIdleTimeoutMs: options.functionIdleTimeoutMs,
      postRate: options.postRate,
      reporter: consoleReporter({ quiet: options.quiet, color }),
    });
  } catch (error) {
    const message = error instanceof JavaMissingError ? error.message : (error as Error).stack;
    process.stderr.write(`The sandbox could not start.\n${message}\n`);
    process.exitCode = 1;
    return;
  }

  publishRunningSandbox(sandbox);
  const tables = Object.values(sandbox.tableNames).join(', ');
  process.stdout.write(
    `\nrohrpost sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n\n` +
      (sandbox.pageUrl ? `  Demo page       ${sandbox.pageUrl}   (open it in two tabs)\n` : '') +
      `  WebSocket       ${sandbox.websocketUrl}\n` +
      `  Management API  ${sandbox.managementEndpoint}   (POST, GET, DELETE /@connections/{connectionId})\n` +
      `  DynamoDB        ${sandbox.dynamodbEndpoint}   (tables: ${tables})\n` +
      `  Metrics         ${sandbox.gateway.origin}${METRICS_PATH}   (as CloudWatch would add them up)\n` +
      (options.assembly
        ? `  Functions       the synthesized assets of ${options.assembly}, as cdk deploy uploads them\n`
        : '') +
      (sandbox.localIssuer
        ? `  JWT issuer      local, in place of authorizer.jwt's: npm run token -- alice\n`
        : '') +
      '\n' +
      `  Try it: npm run client, then type {"id": 1, "type": "ping"}\n` +
      `  ${options.watch ? 'Saved changes to the functions reload them. ' : ''}Stop with Ctrl-C.\n\n`,
  );

  const stopWatchingConfig = options.watch ? followConfig(sandbox) : () => undefined;

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stdout.write('Stopping at once.\n');
      process.exit(130);
    }
    stopping = true;
    stopWatchingConfig();
    process.stdout.write(`\n${signal}: stopping the sandbox...\n`);
    const figures = sandbox.metrics.format();
    if (figures.length > 0) process.stdout.write(`Metrics since the start:\n  ${figures.join('\n  ')}\n`);
    sandbox.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${(error as Error).stack}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/**
 * Takes on a saved rohrpost.config.ts as far as a running sandbox can (new tables, the
 * functions' environment), and says plainly what needs a restart.
 */
function followConfig(sandbox: Sandbox): () => void {
  const say = (line: string) => void process.stdout.write(`${line}\n`);
  let applying: Promise<void> = Promise.resolve();
  return watchConfig(CONFIG_FILE, (result, changedAt) => {
    applying = applying.then(async () => {
      if (result instanceof Error) {
        return say(`! rohrpost.config.ts: ${result.message}\n  Still running the configuration from before.`);
      }
      const change = await sandbox.applyConfig(result, changedAt);
      if (change.needRestart.length > 0) {
        return say(
          `! rohrpost.config.ts changed what only a restart applies: ${change.needRestart.join('; ')}.\n` +
            '  Stop the sandbox (Ctrl-C) and run npm start again.',
        );
      }
      if (change.applied.length > 0) {
        publishRunningSandbox(sandbox);
        say(`↻ rohrpost.config.ts: ${change.applied.join('; ')}`);
      }
    });
  });
}

void main();
