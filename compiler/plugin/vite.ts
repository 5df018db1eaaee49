/**
 * `hybridc/vite`: the hybridc bundler plugin (compiler/plugin/index.ts) for Vite:
 *   import hybridc from "hybridc/vite"; export default defineConfig({ plugins: [hybridc({ fuse: true })] });
 */
import { hybridc } from "./index.ts";

export type { HybridcPluginOptions } from "./module.ts";
export default hybridc.vite;
