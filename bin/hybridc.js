#!/usr/bin/env node
// The `hybridc` executable: runs the compiled CLI in dist/ (`npm run build`, which `npm ci` and
// `npm test` run; the published package ships dist/). First it registers a resolve hook
// (resolve-hooks.js) that loads chevrotain's single-file build instead of its package entry,
// which imports a few hundred modules: half a second saved at every start.
import { register } from "node:module";

register("./resolve-hooks.js", import.meta.url);
let cli;
try {
  cli = await import("../dist/compiler/cli/index.js");
} catch (e) {
  const missing = e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("/dist/compiler/cli/index.js");
  process.stderr.write(`hybridc: internal error: cannot load the compiler: ${e instanceof Error ? e.message : String(e)}\n`);
  process.stderr.write(
    missing
      ? "dist/ is missing: in a clone of the repository, run `npm run build` (`npm ci` and `npm test` run it too).\n"
      : "This is a bug in hybridc (or a broken install: try `npm ci`): please report this.\n",
  );
  if (process.env.HYBRIDC_DEBUG === "1" && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(3);
}
await cli.runCli();
