// @ts-check
// Types shared by the harness, the runner and the workloads (JSDoc only; nothing runs here).

/**
 * What a contestant function receives.
 * @typedef {object} Ctx
 * @property {number} n          the workload's size for this run (messages, tasks, operations...)
 * @property {number} warm       warm-up size: done inside the run, before the timed section
 * @property {boolean} quick     the smoke pass (`--quick`): tiny sizes
 * @property {string | null} python  the python3 executable, or null when there is none
 * @property {string} pythonMissing  why there is no python (when `python` is null)
 * @property {number} timeoutMs  the harness kills the run after this; inner waits use it as their bound
 */

/**
 * What a contestant function returns: the figure in the workload's unit, or the figure plus figures
 * of derived columns measured in the same run (e.g. the local-array baseline of the shared-array row).
 * @typedef {number | { value: number, also?: Record<string, number>, note?: string }} Outcome
 */

/** @typedef {(ctx: Ctx) => Promise<Outcome>} Contestant */

/**
 * A goal: the ratio against `vs`, oriented so that > 1 means multiproc is better, must be >= `ratio`.
 * @typedef {object} Goal
 * @property {string} vs     a contestant id (or a derived column id)
 * @property {number} ratio  the least oriented ratio that meets the goal
 * @property {string} [text] how the goal reads in the table, when `>= {ratio}x {label}` would not
 */

/**
 * A workload module (bench/workloads/<name>.js) exports these.
 * @typedef {object} Workload
 * @property {string} id
 * @property {string} title
 * @property {string} unit                 e.g. 'msg/s', 'us', 'ms'
 * @property {'higher' | 'lower'} direction  which way is better
 * @property {number} order                position in the table
 * @property {{ full: number, quick: number }} size   `ctx.n`
 * @property {{ full: number, quick: number }} [warm] `ctx.warm` (default: a tenth of n)
 * @property {Goal[]} goal
 * @property {Record<string, Contestant>} contestants  must include `multiproc`
 * @property {Record<string, number>} [scale]    contestant id -> factor on n and warm (a fast
 *                                          contestant gets more work for a steadier timing, a slow one less)
 * @property {Record<string, string>} [labels]   column names for contestant ids
 * @property {Record<string, string>} [derived]  column id -> the contestant whose runs produce it
 * @property {string} [note]               one line for bench/README.md and the JSON
 */

export {};
