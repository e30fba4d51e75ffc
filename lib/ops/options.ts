// Checks shared by the F ops.

/** Options are plain objects: a misspelt name (ignore_index, ceil_mode) must fail, not fall back to a default. */
export function checkOptionNames(op: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options))
    if (!allowed.includes(key)) throw new Error(`${op}: unknown option '${key}' (expected one of ${allowed.join(', ')})`);
}
