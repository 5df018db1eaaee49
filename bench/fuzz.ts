/**
 * `npm run fuzz`: the mutation property of tests/syntax/property.test.ts (generator and checks
 * in tests/syntax/mutate.ts) over many more cases: mutants of the canonical specs through
 * `compile`, the formatter, and `build` for those that compile clean to small models. Prints the
 * seed, the count of each outcome and the time; on a failure, the shrunk counterexample and
 * exit code 1.
 *
 *   npm run fuzz                      10^5 cases, a random seed
 *   npm run fuzz -- 10000 42          10^4 cases, seed 42 (a failure's seed reproduces it)
 */
import fc from "fast-check";
import { checkMutant, mutantCases, type Outcome } from "../tests/syntax/mutate.ts";

const runs = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(seed)) {
  process.stderr.write("usage: npm run fuzz -- [CASES] [SEED]\n");
  process.exit(2);
}

const seen = new Map<Outcome, number>();
let done = 0;
const start = performance.now();
const elapsed = () => (performance.now() - start) / 1000;

process.stdout.write(`fuzz: ${runs.toLocaleString("en-US")} mutants of the canonical specs, seed ${seed}\n`);
const result = fc.check(
  fc.property(mutantCases(), (c) => {
    const o = checkMutant(c);
    seen.set(o, (seen.get(o) ?? 0) + 1);
    // fc.check runs synchronously: progress from inside the property, on stderr.
    if (++done % 10_000 === 0) process.stderr.write(`  ${done.toLocaleString("en-US")} cases, ${elapsed().toFixed(0)} s\n`);
  }),
  { seed, numRuns: runs },
);

const s = elapsed();
const counts = [...seen].map(([o, n]) => `${n.toLocaleString("en-US")} ${o}`).join(", ");
process.stdout.write(`${done.toLocaleString("en-US")} cases in ${s.toFixed(1)} s (${Math.round(done / s).toLocaleString("en-US")} a second): ${counts}\n`);
if (result.failed) {
  process.stdout.write(`FAILED after ${result.numRuns} cases (seed ${seed}, path ${result.counterexamplePath ?? "-"}):\n`);
  process.stdout.write(`${JSON.stringify(result.counterexample?.[0], null, 2)}\n${String(result.errorInstance)}\n`);
  process.exit(1);
}
process.stdout.write("no failure\n");
