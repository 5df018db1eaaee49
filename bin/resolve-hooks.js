// A module resolution hook for the `hybridc` executable only (see hybridc.js).
// chevrotain's package entry (lib/src/api.js) imports a few hundred lodash-es modules, which
// costs about half a second at every start; the package's own single-file build next to it
// (lib/chevrotain.mjs: same version, same exports) loads in a tenth of that. Wherever chevrotain
// is installed, use that build when it is there, else the normal entry.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (specifier !== "chevrotain" || !resolved.url.endsWith("/lib/src/api.js")) return resolved;
  const bundle = new URL("../chevrotain.mjs", resolved.url);
  return existsSync(fileURLToPath(bundle)) ? { ...resolved, url: bundle.href } : resolved;
}
