/**
 * The plugin in Vite's dev server (createServer, middleware mode, no websocket): a `.hyb` module
 * serves the compiled artifact; editing the file re-compiles it (Vite's watcher invalidates the
 * module, and the HMR update reaches the module and its importer); a broken edit fails the request
 * with the error Vite's overlay shows (`loc` at the spec's line, `frame`, `id`, `plugin`); fixing
 * it serves the new artifact again.
 */
import { readFileSync } from "node:fs";
import { createServer, type Plugin, type ViteDevServer } from "vite";
import { afterAll, beforeAll, expect, it } from "vitest";
import hybridcVite from "../../compiler/plugin/vite.ts";
import { BROKEN, BROKEN_AT, expectedArtifact, makeFixture, TINY } from "./fixture.ts";

const fx = makeFixture("vite-dev");
let server: ViteDevServer;
/** Files of the HMR updates Vite ran, and the modules each update reached. */
const updates: { file: string; modules: string[] }[] = [];

const spy: Plugin = {
  name: "hmr-spy",
  hotUpdate(options) {
    updates.push({ file: options.file, modules: options.modules.map((m) => m.id ?? "") });
  },
};

beforeAll(async () => {
  fx.write("app.js", `import model from "./tiny.hyb";\nexport const name = model.name;\n`);
  server = await createServer({ root: fx.dir, configFile: false, logLevel: "silent", plugins: [hybridcVite({ runtime: fx.runtime }), spy], server: { middlewareMode: true, ws: false }, appType: "custom" });
}, 60_000);

afterAll(async () => {
  await server?.close();
  fx.remove();
});

/** The module the server serves for tiny.hyb. */
async function served(): Promise<string> {
  const r = await server.transformRequest("/tiny.hyb");
  if (!r) throw new Error("no module for /tiny.hyb");
  return r.code;
}

/** Polls `check` until it passes: the watcher sees a change after an unknown delay (a generous bound, not a timing). */
async function eventually(check: () => Promise<void>, seconds = 60): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

it("serves the compiled artifact, re-compiles an edit, shows a broken edit at its line, recovers", async () => {
  await server.transformRequest("/app.js");
  const first = await served();
  const a = expectedArtifact(TINY, "tiny.hyb");
  expect(first).toContain(JSON.stringify(a.prefill.call[0]!.wgsl));
  expect(first).toContain(`"model":"tiny"`);

  // An edit: a wider model. The served module is the new build, and an HMR update reached it and its importer.
  const wider = TINY.replace("d_model = 64", "d_model = 96");
  fx.write("tiny.hyb", wider);
  const b = expectedArtifact(wider, "tiny.hyb");
  expect(b.weights[0]!.shape).toEqual([256, 96]);
  await eventually(async () => expect(await served()).toContain(JSON.stringify(b.prefill.call[0]!.wgsl)));
  expect(await served()).not.toContain(JSON.stringify(a.prefill.call[0]!.wgsl));
  await eventually(async () => expect(updates.some((u) => u.file === fx.file("tiny.hyb") && u.modules.includes(fx.file("tiny.hyb")))).toBe(true));

  // A broken edit: the request fails with what Vite's overlay shows.
  fx.write("tiny.hyb", BROKEN);
  let error: { message: string; loc?: { file?: string; line: number; column: number }; frame?: string; id?: string; plugin?: string } | undefined;
  await eventually(async () => {
    error = await served().then(
      () => undefined,
      (e: unknown) => e as NonNullable<typeof error>,
    );
    expect(error).toBeDefined();
  });
  expect(error!.message).toContain(`tiny.hyb:${BROKEN_AT.line}:${BROKEN_AT.col}: error[${BROKEN_AT.code}]: unknown argument \`bogus\` for \`mamba2\``);
  expect(error!.loc).toEqual({ file: fx.file("tiny.hyb"), line: BROKEN_AT.line, column: BROKEN_AT.col - 1 });
  expect(error!.id).toBe(fx.file("tiny.hyb"));
  expect(error!.plugin).toBe("hybridc");
  expect(error!.frame).toContain(`${BROKEN_AT.line} | ${BROKEN_AT.text}`);
  expect(error!.frame).toContain(`${" ".repeat(BROKEN_AT.col - 1)}^^^^^ unknown argument`);

  // Fixed again: served as before.
  fx.write("tiny.hyb", TINY);
  await eventually(async () => expect(await served()).toContain(JSON.stringify(a.prefill.call[0]!.wgsl)));
  expect(readFileSync(fx.file("tiny.hyb"), "utf8")).toBe(TINY);
}, 180_000);
