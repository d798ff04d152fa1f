/** The CloudStack simulator: started by the composition root (src/cloud.ts), by `npm run simulator`, and by tests. */
export { DEMO_API_KEY, DEMO_SECRET_KEY, startSimulator, type Simulator, type SimulatorOptions } from './simulator.server.js';
export { inProcessCloud, type InProcessCloud, type InProcessCloudOptions } from './in-process.js';
export { FaultKind, type Fault, type FaultSpec } from './faults.js';
export type { SimulatorSnapshot, SimWorld } from './simulator.state.js';
export { defaultSettings, settings422, type SimSettings } from './simulator.settings.js';
