// Argument parsing shared by every command: Node's util.parseArgs in strict mode, with its errors
// turned into one-line usage errors that name the flag.
import { parseArgs } from 'node:util';

/** Bad command-line input: printed as one line, exit status 2. */
export class UsageError extends Error {}

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Parses `args` against `options`; positionals are allowed only when `positionals` is true. */
export function parseCommandArgs(args: string[], options: Record<string, OptionSpec>, positionals = false): Parsed {
  const names = Object.keys(options).map((n) => `--${n}`);
  try {
    const { values, positionals: rest } = parseArgs({ args, options, strict: true, allowPositionals: positionals });
    return { values: values as Parsed['values'], positionals: rest };
  } catch (err) {
    const e = err as Error & { code?: string };
    const quoted = /'(-[^']*)'/.exec(e.message)?.[1];
    switch (e.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown option '${quoted}' (expected ${names.join(', ') || 'none'})`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
        const flag = /--([\w-]+)/.exec(e.message)?.[0] ?? quoted;
        if (options[flag?.slice(2) ?? '']?.type === 'boolean') throw new UsageError(`option '${flag}' takes no value`);
        // parseArgs will not take a value that starts with '-' (a negative number) after a space.
        if (/ambiguous/.test(e.message)) throw new UsageError(`option '${flag}' needs a value (a value starting with '-' goes as ${flag}=VALUE)`);
        throw new UsageError(`option '${flag}' needs a value`);
      }
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`unexpected argument '${/'([^']*)'/.exec(e.message)?.[1]}'`);
      default:
        throw new UsageError(e.message);
    }
  }
}

export function stringOption(values: Parsed['values'], name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** A numeric flag, or undefined when absent; `integer` and `min`/`max` bound it. */
export function numberOption(
  values: Parsed['values'],
  name: string,
  bounds: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  if (bounds.integer && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got ${v}`);
  if (bounds.min !== undefined && n < bounds.min) throw new UsageError(`--${name} must be at least ${bounds.min}, got ${v}`);
  if (bounds.max !== undefined && n > bounds.max) throw new UsageError(`--${name} must be at most ${bounds.max}, got ${v}`);
  return n;
}

/** --crop: a side ('64') or height x width ('64x512'), each an integer of at least 8. */
export function cropOption(values: Parsed['values']): number | [number, number] | undefined {
  const v = stringOption(values, 'crop');
  if (v === undefined) return undefined;
  const parts = v.split('x');
  const sides = parts.map(Number);
  if (parts.length > 2 || !parts.every((p, i) => /^\d+$/.test(p.trim()) && sides[i] >= 8))
    throw new UsageError(`--crop must be a side or HEIGHTxWIDTH, integers of at least 8 (e.g. 64 or 64x512), got '${v}'`);
  return sides.length === 1 ? sides[0] : [sides[0], sides[1]];
}

/** A command of `ann-seg`: its help text and what it runs (status code out). */
export interface Command {
  summary: string;
  help: string;
  run(args: string[]): number | Promise<number>;
}
