/**
 * The JavaScript side of `hybridc/client`, whose content is types (client.d.ts): nothing, so that
 * `import "hybridc/client"` may stand in a file a bundler reads.
 */
