/**
 * The environment a spawned `hybridc` gets in tests: the parent's, without anything that decides
 * colors or debugging (FORCE_COLOR, NO_COLOR and CI all switch picocolors' detection; CI sets CI),
 * then `extra`, so a test that wants colors or a fault says so itself.
 */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ["FORCE_COLOR", "NO_COLOR", "CI", "HYBRIDC_DEBUG", "HYBRIDC_FAULT"]) delete env[k];
  return { ...env, ...extra };
}
