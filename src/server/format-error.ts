import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode, PUBLIC_CODES } from '../errors.js';
import type { Logger } from '../logger.js';

/** graphql-js's " Did you mean …?" hints name fields, types and values of the schema: off with introspection. */
export const withoutSuggestions = (message: string): string => message.replace(/ Did you mean .+\?$/, '');

/** The longest run of a request error's message without a space or quote (longer runs are cut: `nnnn…`), and its longest message. */
const MAX_RUN = 64;
const MAX_MESSAGE = 1_000;

/**
 * graphql-js quotes what the client sent in its request errors (an unknown field's name, a
 * variable's value that does not coerce — every key of an object): cut to a recognisable prefix,
 * never echoed whole.
 */
export const shortened = (message: string): string => {
  const cut = message.replace(new RegExp(`[^\\s"]{${MAX_RUN + 1},}`, 'g'), (run) => `${run.slice(0, MAX_RUN)}…`);
  return cut.length <= MAX_MESSAGE ? cut : `${cut.slice(0, MAX_MESSAGE).replace(/[\uD800-\uDBFF]$/, '')}…`;
};

/** Formats one error of an operation (HTTP or WebSocket). */
export type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * The one place errors leave the service: an {@link AppError}, or an error about the request
 * itself (parse, validation, variable coercion), keeps its message ({@link shortened}) and code; anything thrown
 * while resolving that is not an AppError is logged and masked as INTERNAL_SERVER_ERROR.
 */
export function createFormatError(logger: Logger, { suggestions = true }: { suggestions?: boolean } = {}): FormatError {
  const hide = (f: GraphQLFormattedError): GraphQLFormattedError => (suggestions ? f : { ...f, message: withoutSuggestions(f.message) });
  return (given, error) => {
    const original = unwrapResolverError(error);
    if (original instanceof AppError) return hide(given);
    const hidden = hide(given);
    const formatted = { ...hidden, message: shortened(hidden.message) };
    // Errors raised while executing carry a path; errors about the request (parse, validation,
    // variable coercion) do not.
    const fromResolver = formatted.path !== undefined;
    const code = formatted.extensions?.code;
    if (!fromResolver) {
      // graphql-ws leaves request errors without a code; Apollo has given them one already.
      if (code === undefined) return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.BAD_USER_INPUT } };
      if (typeof code === 'string' && PUBLIC_CODES.has(code)) return formatted;
      // Apollo refuses some requests with a 4xx and no code of its own (a persisted query's hash
      // that does not match its query, an unknown persisted-query version): a bad request.
      if (refusedWithoutCode(error)) return { ...formatted, extensions: { ...formatted.extensions, code: 'BAD_REQUEST' } };
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error in a GraphQL operation');
    return {
      message: 'Internal server error',
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/** A request error Apollo raised with an HTTP status of 4xx but no `extensions.code`. */
function refusedWithoutCode(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.extensions.code !== undefined) return false;
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
