// Runs the TypeScript fuzz targets (targets.ts) and prints, per target, executions, findings and
// time. Used by scripts/fuzz.sh (`npm run fuzz`); run alone with
//   npx tsx test/fuzz/run.ts [--runs N] [--quick] [--seed S] [target ...]
// Exit code 1 when any target has a finding; its shrunk input and error are printed.
import { fuzz, largestAllocation } from './harness.js';
import { targets } from './targets.js';

const DEFAULT_RUNS = 1_000_000;
const QUICK_RUNS = 20_000;

function main(): number {
  const args = process.argv.slice(2);
  let runs = DEFAULT_RUNS;
  let seed = Date.now() & 0x7fffffff;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--quick') runs = QUICK_RUNS;
    else if (arg === '--runs') runs = Number(args[++i]);
    else if (arg === '--seed') seed = Number(args[++i]);
    else names.push(arg);
  }
  if (!Number.isSafeInteger(runs) || runs < 1) throw new RangeError('--runs needs a positive integer');
  const chosen = names.length === 0 ? targets : targets.filter((t) => names.includes(t.name));
  if (chosen.length !== Math.max(names.length, chosen.length) || (names.length > 0 && chosen.length !== names.length)) {
    throw new RangeError(`unknown target in ${names.join(', ')} (known: ${targets.map((t) => t.name).join(', ')})`);
  }
  let findings = 0;
  for (const target of chosen) {
    const stats = fuzz(target, runs, seed);
    findings += stats.findings;
    console.log(
      `fuzz ts/${stats.target}: ${stats.runs} executions, ${stats.findings} findings, ` +
        `${(stats.ms / 1000).toFixed(1)} s (${stats.rejected} refused with a documented error; seed ${seed})`,
    );
    if (stats.failure !== undefined) console.log(stats.failure);
  }
  console.log(`largest Buffer allocation seen: ${largestAllocation()} bytes`);
  return findings === 0 ? 0 : 1;
}

process.exitCode = main();
