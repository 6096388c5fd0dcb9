import type { MessageHandler } from '../rohrpost';
import ping from './ping';

/** Every message handler of this project. A new handler is a module in this folder and a line here. */
export const handlers: readonly MessageHandler[] = [ping];
