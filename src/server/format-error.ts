import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode, PUBLIC_CODES } from '../errors.js';
import type { Logger } from '../logger.js';

/** Formats one error of an operation (HTTP or WebSocket). */
export type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * The one place errors leave the service: an {@link AppError}, or an error about the request
 * itself (parse, validation, variable coercion), keeps its message and code; anything thrown
 * while resolving that is not an AppError is logged and masked as INTERNAL_SERVER_ERROR.
 */
export function createFormatError(logger: Logger): FormatError {
  return (formatted, error) => {
    const original = unwrapResolverError(error);
    if (original instanceof AppError) return formatted;
    const fromResolver = error instanceof GraphQLError && error.originalError != null;
    const code = formatted.extensions?.code;
    if (!fromResolver && typeof code === 'string' && PUBLIC_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      return formatted;
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
