// @ts-check
// The script workerpool runs in each of its worker processes (workerType: 'process').
import workerpool from 'workerpool';
import { square, squareChunk } from './tasks.js';

workerpool.worker({ square, squareChunk });
