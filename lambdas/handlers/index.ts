import type { MessageHandler } from '../rohrpost';
import notes from './notes';
import ping from './ping';
import subscribe from './subscribe';

/** Every message handler of this project. A new handler is a module in this folder and a line here. */
export const handlers: readonly MessageHandler[] = [ping, subscribe, notes];
