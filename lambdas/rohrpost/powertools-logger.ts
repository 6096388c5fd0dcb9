import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

/** Powertools' Logger, which lambdas/rohrpost/logger.ts requires with a function's first line. */
export class Logger extends PowertoolsLogger {
  /**
   * For a logger made after the instance's first invocation: Powertools takes `cold_start` to be
   * true at its first `addContext`, which is right only in the first invocation.
   */
  madeAfterColdStart(): this {
    this.getColdStart();
    return this;
  }
}
