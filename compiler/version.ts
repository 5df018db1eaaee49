/** The hybridc version, recorded in every artifact it builds (tests/package checks it equals package.json's). */
export const VERSION = "0.1.0";
