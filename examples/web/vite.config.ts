/**
 * The web app's build: the hybridc plugin compiles every `.hyb` the worker imports into its
 * artifact (WGSL inlined) at build time, so the page ships the runtime and the built models, not
 * the compiler. `hybridc/runtime` resolves to the runtime's sources in this repository (an app
 * outside it gets the package's); the models' `load` and the worker share that one copy.
 *   npm run web         vite dev server (a .hyb edit recompiles and reloads)
 *   npm run web:build   examples/web/dist
 */
import { fileURLToPath } from "node:url";
import hybridc from "hybridc/vite";
import { defineConfig } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here("."),
  resolve: { alias: [{ find: /^hybridc\/runtime$/, replacement: here("../../runtime/index.ts") }] },
  plugins: [hybridc()],
  // Worker bundles are built apart from the page's: they need the plugin too.
  worker: { format: "es", plugins: () => [hybridc()] },
  build: {
    target: "es2022",
    // A trained model's weights stay a file of their own (fetched and cached), never inlined.
    assetsInlineLimit: 0,
    // The model chunks are the artifacts: hundreds of KiB of WGSL and layout data each.
    chunkSizeWarningLimit: 2048,
  },
  // specs/ and runtime/ live outside the app's root.
  server: { fs: { allow: [here("../..")] } },
});
