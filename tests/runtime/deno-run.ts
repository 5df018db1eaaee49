/**
 * Run under Deno by tests/runtime/deno.test.ts (not a test file itself): the portability job
 * (portable-run.ts) on Deno's `navigator.gpu`, which is wgpu with naga as its WGSL compiler, a
 * WebGPU implementation independent of Node's Dawn.
 *
 *   deno run --unstable-webgpu --allow-read --allow-env deno-run.ts JOB.json  ->  one JSON line
 *
 * JOB is a PortableJob.
 */
import { runPortableJob, type PortableJob } from "./portable-run.ts";

declare const Deno: { readonly args: readonly string[]; readTextFile(path: string): Promise<string>; exit(code: number): never };

const job = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as PortableJob;
const result = await runPortableJob((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, job);
console.log(JSON.stringify(result));
Deno.exit(result.error ? 1 : 0);
