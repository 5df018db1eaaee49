/**
 * The web app (examples/web), end to end: Vite builds it with the hybridc plugin as `npm run
 * web:build` does, a local server serves the build (and weights files made here, counting their
 * requests), and headless Chromium (Debian's, through playwright-core) drives the page by its URL
 * parameters, on its own WebGPU (SwiftShader: Chromium does not use the system's lavapipe).
 *   - two canonical specs: greedy text from seeded random weights equals what the Node runtime
 *     (Dawn) generates for the same spec, seed and prompt (the random init is bit-identical);
 *   - weights from a local file chosen on the form give the same text as the seeded weights it holds;
 *   - weights from a URL: the first visit downloads them, the second loads them from the Cache API
 *     (the server sees one request) and generates the same text as the seeded random weights
 *     they hold;
 *   - the trained model (specs/kjv-byte.hyb and its shipped weights): greedy text from the
 *     weights the app ships equals the Node runtime's from the same file;
 *   - weights that do not fit the spec, no WebGPU, a lost device, and the stop button each end
 *     with what the page says;
 *   - the bundle holds the runtime and the artifacts, not the compiler.
 * The app's sources are typechecked by `npm run typecheck` (tsc -p examples/web), not here.
 * HYBRIDC_WEB_SCREENSHOT=PATH saves a screenshot of the page mid-generation (the README's).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/index.ts";
import { encodeSafetensors, loadModel, randomCheckpoint, type Checkpoint, type ModelArtifact } from "../../runtime/index.ts";
import { openCheckpoint } from "../../runtime/weights/node.ts";
import { getDevice } from "../gpu/device.ts";
import { serveStatic, type StaticServer } from "./serve.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = process.env["HYBRIDC_CHROMIUM"] ?? "/usr/bin/chromium";
/** Chromium's WebGPU; root needs --no-sandbox. */
const WEBGPU = ["--enable-unsafe-webgpu", "--no-sandbox"];
/** Loading a model compiles its pipelines (SwiftShader: seconds); generous, never tight. */
const PAGE_TIMEOUT = 240_000;

/** The two cheapest canonical specs whose greedy text from random weights is not one repeated byte. */
const SPECS = ["hybrid-3to1", "jamba-style"] as const;
const SEED = 1;
const PROMPT = "The state space ";
const TOKENS = 12;
const WEIGHTS_SPEC = "hybrid-3to1";
/** A trained model the app ships with its weights (specs/NAME.safetensors), when the repository has one. */
const TRAINED = "kjv-byte";

let dir: string;
let filesDir: string;
let weights: Uint8Array;
/** `weights` as a file (model.safetensors in a temporary directory), for the form's file input. */
let weightsPath: string;
let server: StaticServer;
let browser: Browser;
let context: BrowserContext;

function artifactOf(spec: string): ModelArtifact {
  const path = `specs/${spec}.hyb`;
  const r = build(readFileSync(join(ROOT, path), "utf8"), { path });
  if (!r.ok) throw new Error(`${path} does not build`);
  return r.artifacts[0]!;
}

/** What the Node runtime generates: greedy tokens from the seeded random weights (or a checkpoint's). */
async function nodeTokens(spec: string, seed: number | ((a: ModelArtifact) => Promise<Checkpoint>), prompt: string, maxTokens: number): Promise<number[]> {
  const artifact = artifactOf(spec);
  const weights = typeof seed === "number" ? randomCheckpoint(artifact, seed) : await seed(artifact);
  const model = await loadModel(await getDevice(), artifact, weights);
  try {
    const out: number[] = [];
    for await (const { token } of model.generate(prompt, { maxTokens, temperature: 0 })) out.push(token);
    return out;
  } finally {
    model.destroy();
  }
}

/** Seeded random weights of a spec as a safetensors file (F32: exactly the values the seed gives). */
async function weightsFile(spec: string, seed: number): Promise<Uint8Array> {
  const artifact = artifactOf(spec);
  const rand = randomCheckpoint(artifact, seed);
  const tensors = [];
  for (const w of artifact.weights) tensors.push({ name: w.name, shape: w.shape, dtype: "F32" as const, data: await rand.read(w.name) });
  return encodeSafetensors(tensors);
}

interface PageResult {
  readonly done?: string;
  readonly error?: string;
  readonly stopped?: string;
  readonly tokens?: string;
  readonly firstTokenMs?: string;
  readonly tokensPerSecond?: string;
  readonly weightsSource?: string;
  readonly output: string;
  readonly message: string;
  readonly info: string;
  /** The progress bars' labels as the load left them. */
  readonly download: string;
  readonly upload: string;
}

// Page-side code is written as expressions: this file is typed for Node, not the DOM.
const SETTLED = "document.body.dataset.done !== undefined || document.body.dataset.error !== undefined";
const RESULT = `({
  ...document.body.dataset,
  output: document.getElementById("output").textContent,
  message: document.getElementById("message").hidden ? "" : document.getElementById("message").textContent,
  info: document.getElementById("model-info").textContent,
  download: document.getElementById("download-label").textContent,
  upload: document.getElementById("weights-label").textContent,
})`;

async function settle(page: Page): Promise<PageResult> {
  await page.waitForFunction(SETTLED, undefined, { timeout: PAGE_TIMEOUT });
  return page.evaluate<PageResult>(RESULT);
}

/** Open the app with URL parameters in a new page of `ctx` and wait for it to finish. */
async function visit(params: Record<string, string | number>, ctx: BrowserContext = context): Promise<PageResult> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    const q = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]));
    await page.goto(`${server.origin}/?${q}`);
    const r = await settle(page);
    expect(errors, "uncaught errors on the page").toEqual([]);
    return r;
  } finally {
    await page.close();
  }
}

const decode = (tokens: readonly number[]) => new TextDecoder().decode(Uint8Array.from(tokens));
const tokensOf = (r: PageResult) => (r.tokens ? r.tokens.split(",").map(Number) : []);

function bundleFiles(): { name: string; bytes: number; gzip: number; text: string }[] {
  const files: string[] = [];
  const walk = (d: string) => readdirSync(d).forEach((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : files.push(join(d, f))));
  walk(dir);
  return files.map((f) => {
    const bytes = readFileSync(f);
    return { name: f.slice(dir.length + 1), bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, text: bytes.toString("latin1") };
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it with \`bash .ci/install\` (Debian: apt-get install chromium), or point HYBRIDC_CHROMIUM at a Chromium binary`);
  }
  dir = mkdtempSync(join(tmpdir(), "hybridc-web-"));
  const { build: viteBuild } = await import("vite");
  // As `npm run web:build` does, into a temporary directory.
  await viteBuild({ configFile: join(ROOT, "examples", "web", "vite.config.ts"), logLevel: "warn", build: { outDir: dir, emptyOutDir: true } });
  weights = await weightsFile(WEIGHTS_SPEC, SEED);
  filesDir = mkdtempSync(join(tmpdir(), "hybridc-web-files-"));
  weightsPath = join(filesDir, "model.safetensors");
  writeFileSync(weightsPath, weights);
  // A checkpoint of another shape: the page must name the tensors that do not fit.
  const wrong = encodeSafetensors([{ name: "model.embed_tokens.weight", shape: [3, 4], dtype: "F32", data: new Float32Array(12) }]);
  server = await serveStatic(
    dir,
    new Map([
      ["/weights/model.safetensors", weights],
      ["/weights/wrong.safetensors", wrong],
    ]),
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: WEBGPU });
  context = await browser.newContext({ viewport: { width: 1100, height: 860 } });
  // Playwright's 30 s default for actions is tight on a loaded machine; never tight here.
  context.setDefaultTimeout(PAGE_TIMEOUT);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (filesDir) rmSync(filesDir, { recursive: true, force: true });
});

describe("the web app in Chromium", () => {
  it.each(SPECS)(
    "%s: greedy text from seeded random weights equals the Node runtime's",
    async (spec) => {
      const want = await nodeTokens(spec, SEED, PROMPT, TOKENS);
      const r = await visit({ spec, init: "random", seed: SEED, prompt: PROMPT, maxTokens: TOKENS, temperature: 0 });
      expect(r.error).toBeUndefined();
      expect(r.done).toBe("1");
      expect(tokensOf(r)).toEqual(want);
      expect(r.output).toBe(decode(want));
      expect(new Set(want).size, "the text is not one repeated byte").toBeGreaterThan(2);
      console.log(`web app ${spec}: first token ${r.firstTokenMs} ms (prompt of ${PROMPT.length} tokens), ${r.tokensPerSecond} tokens/s; ${r.info}`);
    },
    PAGE_TIMEOUT * 2,
  );

  it(
    "weights from a URL: downloaded once, then loaded from the cache; the same text as the seeded random weights",
    async () => {
      const params = { spec: WEIGHTS_SPEC, init: "url", url: "/weights/model.safetensors", prompt: PROMPT, maxTokens: TOKENS, temperature: 0 };
      const first = await visit(params);
      expect(first.error).toBeUndefined();
      expect(first.weightsSource).toBe("network");
      // The bars count the bytes downloaded and the tensors uploaded, to the end.
      const mb = `${(weights.length / 1e6).toFixed(1)} MB`;
      expect(first.download).toBe(`${mb} of ${mb}`);
      const tensors = artifactOf(WEIGHTS_SPEC).weights.length;
      expect(first.upload).toMatch(new RegExp(`^${tensors} of ${tensors} tensors, ([\\d.]+ MB) of \\1$`));
      expect(server.hits("/weights/model.safetensors")).toBe(1);
      const second = await visit(params);
      expect(second.error).toBeUndefined();
      expect(second.weightsSource).toBe("cache");
      expect(second.info).toContain("from the cache");
      expect(server.hits("/weights/model.safetensors"), "the second visit made no request").toBe(1);
      const want = await nodeTokens(WEIGHTS_SPEC, SEED, PROMPT, TOKENS);
      expect(tokensOf(first)).toEqual(want);
      expect(tokensOf(second)).toEqual(want);
      // "Forget cached weights" empties the cache.
      const page = await context.newPage();
      try {
        await page.goto(server.origin);
        await page.waitForFunction('!document.getElementById("generate").disabled', undefined, { timeout: PAGE_TIMEOUT });
        await page.click("#forget");
        await page.waitForFunction('/^forgot [1-9]\\d* cached weights files?$/.test(document.getElementById("status").textContent)', undefined, { timeout: PAGE_TIMEOUT });
        expect(await page.evaluate('caches.open("hybridc-weights-v1").then((c) => c.keys()).then((k) => k.length)')).toBe(0);
      } finally {
        await page.close();
      }
    },
    PAGE_TIMEOUT * 3,
  );

  it(
    "weights from a local file chosen on the form: the same text as the seeded random weights it holds",
    async () => {
      const page = await context.newPage();
      try {
        await page.goto(server.origin);
        await page.waitForFunction('!document.getElementById("generate").disabled', undefined, { timeout: PAGE_TIMEOUT });
        await page.selectOption("#spec", WEIGHTS_SPEC);
        await page.check('input[name="weights"][value="file"]');
        // A path, not a buffer: Playwright hands a local browser the path, where a 33 MB buffer
        // crosses the protocol as base64 (9 s on a quiet machine, past 30 s on a busy one).
        await page.setInputFiles("#file", weightsPath);
        await page.fill("#prompt", PROMPT);
        await page.fill("#max-tokens", String(TOKENS));
        await page.fill("#temperature", "0");
        await page.click("#generate");
        const r = await settle(page);
        expect(r.error).toBeUndefined();
        expect(r.info).toContain("weights model.safetensors");
        expect(tokensOf(r)).toEqual(await nodeTokens(WEIGHTS_SPEC, SEED, PROMPT, TOKENS));
      } finally {
        await page.close();
      }
    },
    PAGE_TIMEOUT,
  );

  it(
    `the trained model (${TRAINED}): greedy text from the weights the app ships equals the Node runtime's`,
    async () => {
      const prompt = "In the beginning";
      const want = await nodeTokens(TRAINED, () => openCheckpoint(join(ROOT, "specs", `${TRAINED}.safetensors`)), prompt, 40);
      const r = await visit({ spec: TRAINED, init: "trained", prompt, maxTokens: 40, temperature: 0 });
      expect(r.error).toBeUndefined();
      expect(tokensOf(r)).toEqual(want);
      expect(r.output).toBe(decode(want));
      console.log(`web app ${TRAINED}: ${JSON.stringify(prompt + r.output)}; first token ${r.firstTokenMs} ms, ${r.tokensPerSecond} tokens/s; ${r.info}`);
    },
    PAGE_TIMEOUT,
  );

  it(
    "weights that do not fit the spec: the page names the tensors",
    async () => {
      const r = await visit({ spec: WEIGHTS_SPEC, url: "/weights/wrong.safetensors", prompt: PROMPT, maxTokens: 4, temperature: 0 });
      expect(r.done).toBeUndefined();
      expect(r.error).toMatch(/^These weights do not fit hybrid-3to1:\n/);
      expect(r.error).toContain("model.embed_tokens.weight: expected shape [256, 256], found [3, 4]");
      expect(r.message).toContain("The weights do not fit this model");
    },
    PAGE_TIMEOUT,
  );

  it(
    "a lost device: the page says so",
    async () => {
      const r = await visit({ spec: WEIGHTS_SPEC, seed: SEED, prompt: PROMPT, maxTokens: 50, temperature: 0, loseDevice: 3 });
      expect(r.done).toBeUndefined();
      expect(r.error).toMatch(/^The GPU device was lost \(destroyed/);
      expect(r.message).toContain("The GPU device was lost");
      expect(tokensOf(r), "the tokens before the loss stay on the page").toHaveLength(3);
    },
    PAGE_TIMEOUT,
  );

  it(
    "the stop button ends generation mid-way, keeping the text",
    async () => {
      const page = await context.newPage();
      try {
        // The trained model when there is one: its text makes the README's screenshot.
        const run: Record<string, string> = { spec: TRAINED, init: "trained", prompt: "And God said" };
        const q = new URLSearchParams({ ...run, maxTokens: "5000", temperature: "0.8" });
        await page.goto(`${server.origin}/?${q}`);
        await page.waitForFunction('document.getElementById("output").textContent.length >= 160', undefined, { timeout: PAGE_TIMEOUT });
        const shot = process.env["HYBRIDC_WEB_SCREENSHOT"];
        if (shot) await page.screenshot({ path: shot });
        expect(await page.evaluate("document.body.dataset.running")).toBe("1");
        await page.click("#stop");
        const r = await settle(page);
        expect(r.error).toBeUndefined();
        expect(r.done).toBe("1");
        expect(r.stopped).toBe("1");
        const n = tokensOf(r).length;
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThan(5000);
        expect(await page.textContent("#status")).toBe("stopped");
        // Generate again from the form: the loaded model is reused.
        await page.fill("#max-tokens", "8");
        await page.click("#generate");
        const again = await settle(page);
        expect(again.error).toBeUndefined();
        expect(again.stopped).toBeUndefined();
        expect(tokensOf(again)).toHaveLength(8);
        expect(again.info).toContain("(already loaded)");
      } finally {
        await page.close();
      }
    },
    PAGE_TIMEOUT,
  );

  it(
    "without WebGPU the page says what is missing",
    async () => {
      const plain = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
      try {
        const r = await visit({ spec: WEIGHTS_SPEC, prompt: PROMPT, maxTokens: 4 }, await plain.newContext());
        expect(r.done).toBeUndefined();
        expect(r.error).toMatch(/WebGPU/);
        expect(r.message).toMatch(/^No WebGPU/);
      } finally {
        await plain.close();
      }
    },
    PAGE_TIMEOUT,
  );
});

describe("the bundle", () => {
  it("ships the runtime and the built artifacts, not the compiler", () => {
    const files = bundleFiles();
    const js = files.filter((f) => f.name.endsWith(".js"));
    for (const f of js) {
      expect(f.text, `${f.name}: chevrotain (the parser)`).not.toMatch(/chevrotain|CstParser/i);
      expect(f.text, `${f.name}: the diagnostic catalogue`).not.toMatch(/HYB\d{4}/);
      expect(f.text, `${f.name}: ts-morph or prettier`).not.toMatch(/ts-morph|prettier/);
    }
    // One chunk per canonical spec, each holding its artifact with its WGSL.
    const specs = readdirSync(join(ROOT, "specs")).filter((f) => f.endsWith(".hyb"));
    for (const s of specs) {
      const chunk = js.find((f) => f.name.startsWith(`assets/${s.replace(/\.hyb$/, "")}-`));
      expect(chunk, `the chunk of ${s}`).toBeDefined();
      expect(chunk!.text).toContain("hybridc-artifact");
      expect(chunk!.text).toContain("@compute");
    }
    const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    const sum = (fs: typeof files) => fs.reduce((a, f) => ({ bytes: a.bytes + f.bytes, gzip: a.gzip + f.gzip }), { bytes: 0, gzip: 0 });
    const models = js.filter((f) => specs.some((s) => f.name.startsWith(`assets/${s.replace(/\.hyb$/, "")}-`)));
    const app = sum(files.filter((f) => !models.includes(f) && !f.name.endsWith(".safetensors")));
    const all = sum(models);
    console.log(`web bundle: page + worker + runtime ${kib(app.bytes)} (gzip ${kib(app.gzip)}); ${models.length} model artifacts ${kib(all.bytes)} (gzip ${kib(all.gzip)})`);
    for (const f of files) console.log(`  ${f.name.padEnd(40)} ${kib(f.bytes).padStart(11)}  gzip ${kib(f.gzip).padStart(10)}`);
  });
});
