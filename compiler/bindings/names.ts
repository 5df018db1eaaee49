/**
 * Where typed bindings live and how they are recognized, apart from the emitter (emit.ts), so the
 * CLI knows them without loading ts-morph and prettier.
 */

/** The bindings' file name in a model's build directory (`DIR/<model>/index.ts`). */
export const BINDINGS_FILE = "index.ts";

/** Every bindings file starts with this: a rebuild replaces (or removes) only files that do. */
export const BINDINGS_HEADER = "// Typed bindings of model ";
