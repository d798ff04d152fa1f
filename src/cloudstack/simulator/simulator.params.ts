import { ApiErrorCode } from '../errors.js';

/**
 * Request parameters as the simulated API layer sees them, and the errors it raises. Parameter
 * names are looked up case-insensitively; the keys inside map parameters (`details[0].cpuNumber`)
 * keep their case, as CloudStack reads them case-sensitively.
 */

/** An error the simulator answers with: CloudStack's `errorcode` (= HTTP status) and `errortext`. */
export class SimApiError extends Error {
  constructor(
    readonly errorCode: number,
    readonly errorText: string,
    /** CloudStack's `cserrorcode` (the exception class); informative only. */
    readonly csErrorCode: number = errorCode === ApiErrorCode.PARAM_ERROR ? 4350 : 4250,
    /**
     * A CloudRuntimeException (or any unexpected exception), not a ServerApiException: answered
     * synchronously to a caller that is not a root admin, ApiServer replaces its text with
     * {@link USER_ERROR_TEXT}. Job results are never replaced.
     */
    readonly runtime: boolean = false,
  ) {
    super(errorText);
    this.name = 'SimApiError';
  }
}

/** A 431 (InvalidParameterValueException). */
export const paramError = (text: string) => new SimApiError(ApiErrorCode.PARAM_ERROR, text);
/** A 530 (CloudRuntimeException). */
export const internalError = (text: string) => new SimApiError(ApiErrorCode.INTERNAL_ERROR, text, 4250, true);

/** BaseCmd.USER_ERROR_MESSAGE: what a non-admin caller reads instead of a sync 530's text (ApiServer.handleRequest). */
export const USER_ERROR_TEXT = 'Internal error executing command, please contact your system administrator';

/** The parameters of one API request. */
export class RequestParams {
  private readonly byName = new Map<string, string>();
  private readonly pairs: [string, string][];
  private readonly rawNames: string[];

  /** `pairs`: name/value as received (first value of a repeated name wins, as in the servlet). */
  constructor(
    readonly command: string,
    pairs: Iterable<readonly [string, string]>,
  ) {
    const all = [...pairs];
    for (const [name, value] of all) {
      const key = name.toLowerCase();
      if (!this.byName.has(key)) this.byName.set(key, value);
    }
    this.pairs = [...this.byName.entries()];
    this.rawNames = all.map(([name]) => name);
  }

  private get commandWord(): string {
    return this.command.toLowerCase();
  }

  /** An optional parameter (empty string counts as absent). */
  get(name: string): string | undefined {
    const value = this.byName.get(name.toLowerCase());
    return value === undefined || value === '' ? undefined : value;
  }

  /** A required parameter: 431 "… due to missing parameter <name>" when absent. */
  required(name: string): string {
    const value = this.get(name);
    if (value === undefined) throw paramError(`Unable to execute API command ${this.commandWord} due to missing parameter ${name}`);
    return value;
  }

  /** 431 for a value that is not what the parameter takes (a uuid that matches nothing, a bad number…). */
  invalid(name: string, value: string): SimApiError {
    return paramError(
      `Unable to execute API command ${this.commandWord} due to invalid value. Invalid parameter ${name} value=${value} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.`,
    );
  }

  /** Resolves an id parameter with `lookup`; 431 (invalid value) when it matches nothing. */
  entity<T>(name: string, lookup: (id: string) => T | undefined, { optional = false } = {}): T | undefined {
    const id = optional ? this.get(name) : this.required(name);
    if (id === undefined) return undefined;
    const found = lookup(id);
    if (found === undefined) throw this.invalid(name, id);
    return found;
  }

  /** Like {@link entity} for a required parameter. */
  need<T>(name: string, lookup: (id: string) => T | undefined): T {
    return this.entity(name, lookup) as T;
  }

  /**
   * An optional whole number; negative ones only when `signed` (a Long parameter such as
   * `deviceid` takes -1, and the command refuses it later). Not a number: ParamProcessWorker's 431
   * "… due to invalid value <v> for parameter <name>".
   */
  integer(name: string, { signed = false } = {}): number | undefined {
    const value = this.get(name);
    if (value === undefined) return undefined;
    if (!(signed ? /^-?\d+$/ : /^\d+$/).test(value)) {
      throw paramError(`Unable to execute API command ${this.commandWord} due to invalid value ${value} for parameter ${name}`);
    }
    return Number(value);
  }

  /** An optional boolean ("true"/"false", any case). */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.get(name);
    return value === undefined ? fallback : value.toLowerCase() === 'true';
  }

  /** An optional comma-separated list. */
  list(name: string): string[] {
    return (this.get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /**
   * A map parameter (`details[0].cpuNumber=2&details[1].memory=512`) merged into one record; the
   * inner keys keep their case.
   */
  map(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    const prefix = `${name.toLowerCase()}[`;
    for (const [key, value] of this.pairs) {
      if (!key.startsWith(prefix)) continue;
      const raw = this.rawNames.find((n) => n.toLowerCase() === key) ?? key;
      const dot = raw.indexOf('].');
      if (dot > 0) out[raw.slice(dot + 2)] = value;
    }
    return out;
  }
}
