/**
 * The CloudStack side of the service: the port the engine depends on, the HTTP client that
 * implements it, its typed errors and resources, and the simulator.
 */
export type * from './cloudstack.port.js';
export * from './cloudstack.types.js';
export { CloudStackClient, type CloudStackClientOptions } from './cloudstack.client.js';
export { FetchTransport, type HttpRequest, type HttpTransport } from './cloudstack.transport.js';
export { ApiErrorCode, CloudStackError, CloudStackErrorKind, isCloudStackError } from './errors.js';
export type { CloudStackLogger } from './logger.js';
export type { Backoff } from '../retry.js';
export { canonicalString, computeSignature, encodeValue, formatExpires, signRequest } from './signing.js';
export { DEMO_API_KEY, DEMO_SECRET_KEY, startSimulator, type Simulator, type SimulatorIds, type SimulatorOptions } from './simulator/simulator.server.js';
export { FaultKind, type Fault, type FaultSpec } from './simulator/faults.js';
export type { SimulatorSnapshot, SimWorld } from './simulator/simulator.state.js';
