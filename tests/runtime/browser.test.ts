/**
 * Portability: hybridc in a browser. Vite bundles browser-page.ts (the runtime and the
 * portability job, no compiler, no Node API), a local server serves it, the job brings the built
 * artifacts and modules, and headless Chromium (Debian's, driven by playwright-core) runs it on
 * its own WebGPU: Chromium's Dawn and Tint in its GPU process, on whatever adapter it finds
 * (SwiftShader here).
 *   - a module that must fail is reported (validation is observable);
 *   - every kernel of every spec in specs/ passes Chromium's WGSL validation (modules only:
 *     SwiftShader compiles pipelines eagerly, minutes for all of them);
 *   - the tiny models of portable.ts, fused and unfused, match the step-by-step float64
 *     reference: prefill logits and greedy generation.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalSpecs, expectMatchesReference, MODELS, portableJob } from "./portable.ts";
import type { PortableJob, PortableResult } from "./portable-run.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = process.env["HYBRIDC_CHROMIUM"] ?? "/usr/bin/chromium";

const specs = canonicalSpecs();

let dir: string;
let server: Server | undefined;
let browser: Browser | undefined;
let result: PortableResult;
let job: PortableJob;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it with \`bash .ci/install\` (Debian: apt-get install chromium), or point HYBRIDC_CHROMIUM at a Chromium binary`);
  }
  dir = mkdtempSync(join(tmpdir(), "hybridc-browser-"));
  const { build } = await import("vite");
  await build({
    configFile: false,
    root: ROOT,
    logLevel: "warn",
    build: { outDir: dir, emptyOutDir: true, minify: false, lib: { entry: join(ROOT, "tests", "runtime", "browser-page.ts"), formats: ["es"], fileName: () => "page.js" } },
  });
  const files: Record<string, [string, string]> = {
    "/": ["text/html", '<!doctype html><meta charset="utf-8"><title>hybridc</title><script type="module" src="/page.js"></script>'],
    "/page.js": ["text/javascript", readFileSync(join(dir, "page.js"), "utf8")],
  };
  server = createServer((req, res) => {
    const f = files[req.url ?? ""];
    res.writeHead(f ? 200 : 404, { "content-type": f ? f[0] : "text/plain" });
    res.end(f ? f[1] : "not found");
  });
  await new Promise<void>((ok) => server!.listen(0, "127.0.0.1", ok));
  // localhost is a secure context, which navigator.gpu requires; root needs --no-sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--enable-unsafe-webgpu", "--no-sandbox"] });
  const page = await browser.newPage();
  // Playwright's 30 s default is tight on a loaded machine (CI runs other GPU files beside this).
  page.setDefaultTimeout(300_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`http://localhost:${(server.address() as AddressInfo).port}/`);
  await page.waitForFunction(() => "runPortableJob" in globalThis, undefined, { timeout: 300_000 }).catch(() => {
    throw new Error(`the page did not load its script: ${errors.join("; ") || "no page error"}`);
  });
    // Modules only: SwiftShader compiles each pipeline eagerly (5,780 took 4 min here); Deno
  // makes the pipelines, and Node's Dawn runs every kernel.
  job = portableJob(false);
  result = await page.evaluate((j) => (globalThis as unknown as { runPortableJob: (job: PortableJob) => Promise<PortableResult> }).runPortableJob(j), job);
  if (result.error) throw new Error(`chromium: ${result.error}`);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("Chromium (headless, its own Dawn)", () => {
  it("validates every kernel of every spec, fused and --no-fuse", () => {
    console.log(`chromium: ${result.adapter}: ${result.kernels.modules} distinct WGSL modules of ${specs.length} specs validated`);
    expect(result.kernels.probe.length, "the invalid probe module must be reported").toBeGreaterThan(0);
    expect(result.kernels.failures).toEqual([]);
    expect(result.kernels.modules).toBe(job.modules.length);
    expect(job.modules.length).toBeGreaterThan(1000);
  });

  describe.each(Object.keys(MODELS))("%s", (name) => {
    it.each([true, false])("fuse = %s: prefill logits and greedy generation match the float64 reference", (fuse) => expectMatchesReference(result.runs, name, fuse));
  });
});
