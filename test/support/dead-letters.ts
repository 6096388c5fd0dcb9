import type { DeadLetter } from '../../lambdas/rohrpost/deploy';
import type { Sandbox } from '../../sandbox/sandbox';

export type FunctionLetter = Extract<DeadLetter, { source: 'function' }>;

/** The letters the notification function set aside, in the sandbox's dead-letter queue now. */
export function functionLetters(sandbox: Sandbox): FunctionLetter[] {
  return sandbox.deadLetters.filter((letter): letter is FunctionLetter => letter.source === 'function');
}

/** The function's letter for the item whose key `id` is `id`, if there is one. */
export function letterFor(sandbox: Sandbox, id: string): FunctionLetter | undefined {
  return functionLetters(sandbox).find((letter) => letter.record.dynamodb?.Keys?.id?.S === id);
}
