import { badInput } from './errors.js';

/**
 * The one home of the API's argument rules: what a text argument must be (not blank, not too
 * long), a number (whole, within its range) and a list (not empty, bounded), and how a refusal
 * reads (BAD_USER_INPUT naming the argument). Resolvers, services and the
 * mutation service check their arguments here, so the same argument is held to the same rule on
 * every path.
 */

/** The longest id or name a column holds (VARCHAR(255)). */
export const MAX_TEXT_LENGTH = 255;

interface TextRule {
  /** The longest value accepted (default {@link MAX_TEXT_LENGTH}; Infinity: no bound of its own). */
  readonly max?: number;
  /** How the value is named in the message (default: the field). */
  readonly label?: string;
  /** Appended to "must not be empty" (e.g. how to mean "all" instead). */
  readonly hint?: string;
}

/** A required text argument: not blank, at most `max` characters. Returns it unchanged. */
export function requireText(field: string, value: string, { max = MAX_TEXT_LENGTH, label = field, hint }: TextRule = {}): string {
  if (value.trim() === '') throw badInput(field, `${label} must not be empty${hint ? ` (${hint})` : ''}`);
  if (value.length > max) throw badInput(field, `${label} must be at most ${max} characters`);
  return value;
}

/** An optional text argument: absent (null/undefined), or held to {@link requireText}. */
export function optionalText(field: string, value: string | null | undefined, rule: TextRule = {}): string | undefined {
  return value === null || value === undefined ? undefined : requireText(field, value, rule);
}

/** A list argument: at least one entry, at most `max`. */
export function requireList<T>(field: string, values: readonly T[], max: number, { noun = 'entry', nouns = 'entries' } = {}): readonly T[] {
  if (values.length === 0) throw badInput(field, `${field} must name at least one ${noun}`);
  if (values.length > max) throw badInput(field, `${field} may name at most ${max} ${nouns}`);
  return values;
}

/** A whole-number argument from `min` to `max` (default: no upper bound). Returns it unchanged. */
export function requireWholeNumber(
  field: string,
  value: number,
  { min, max = Number.POSITIVE_INFINITY, label = field }: { min: number; max?: number; label?: string },
): number {
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  if (max === Number.POSITIVE_INFINITY)
    throw badInput(field, min === 0 ? `${label} must not be negative` : `${label} must be a whole number of at least ${min}`);
  throw badInput(field, `${label} must be a whole number from ${min} to ${max}`);
}

/** How an API key is named: 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The longest API key name. */
export const MAX_KEY_NAME_LENGTH = 64;

/** A new API key's name, held to {@link KEY_NAME}. Returns it unchanged. */
export function requireKeyName(field: string, name: string): string {
  if (!KEY_NAME.test(name))
    throw badInput(field, `A key name is 1 to ${MAX_KEY_NAME_LENGTH} letters, digits, dots, dashes or underscores, starting with a letter or digit`);
  return name;
}

/** An id argument (`ID`): a positive whole number as text. */
export function parseId(field: string, value: string): number {
  requireText(field, value, { max: 20 });
  if (!/^[1-9]\d{0,9}$/.test(value) || Number(value) > 2_147_483_647) throw badInput(field, `${field} is not an id this service issued`);
  return Number(value);
}
