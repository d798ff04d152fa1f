/**
 * The CloudStack side of the service: the port the engine depends on, the HTTP client that
 * implements it, and its typed errors and resources. The simulator is not part of it: it has its
 * own entry point (`./simulator/index.js`), and only the composition root (src/cloud.ts) starts it.
 */
export type * from './cloudstack.port.js';
export * from './cloudstack.types.js';
export { CloudStackClient, type CloudStackClientOptions } from './cloudstack.client.js';
export { FetchTransport, type HttpRequest, type HttpTransport } from './cloudstack.transport.js';
export { ApiErrorCode, CloudStackError, CloudStackErrorKind, isCloudStackError } from './errors.js';
export type { CloudStackLogger } from './logger.js';
export type { Backoff } from '../retry.js';
export { canonicalString, computeSignature, encodeValue, formatExpires, signRequest } from './signing.js';
