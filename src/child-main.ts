// The entry file of every child process (spawn.ts runs `node [execArgv] dist/child-main.js`).
// Kept apart from child.ts, which the pool and the manager import for loadTarget.
import { main } from './child.js';

void main();
