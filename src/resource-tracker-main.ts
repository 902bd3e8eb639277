// The entry file of the per-user resource tracker process (resource-tracker.ts starts it).
import { runTracker } from './resource-tracker.js';

runTracker();
