/**
 * The page script of tests/runtime/browser.test.ts, bundled for the browser by Vite: it exposes
 * the portability job (portable-run.ts) as `globalThis.runPortableJob(job)` on the page's
 * `navigator.gpu`. It holds the runtime only (the artifacts come built, as an app ships them), and
 * bundling it at all checks that the runtime needs no Node API.
 */
import { runPortableJob, type PortableJob, type PortableResult } from "./portable-run.ts";

const g = globalThis as unknown as { navigator?: { gpu?: GPU }; runPortableJob?: (job: PortableJob) => Promise<PortableResult> };
g.runPortableJob = (job) => runPortableJob(g.navigator?.gpu, job);
