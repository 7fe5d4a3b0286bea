import { Initial1795000000000 } from './1795000000000-initial.js';

/** Every migration, oldest first. A new migration is added here as well as in its own file. */
export const migrations = [Initial1795000000000];
