/**
 * `hybridc/esbuild`: the hybridc bundler plugin (compiler/plugin/index.ts) for esbuild:
 *   import hybridc from "hybridc/esbuild"; await esbuild.build({ entryPoints: ["main.js"], bundle: true, plugins: [hybridc()] });
 */
import { hybridc } from "./index.ts";

export type { HybridcPluginOptions } from "./module.ts";
export default hybridc.esbuild;
