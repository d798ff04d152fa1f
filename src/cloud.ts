import { randomBytes } from 'node:crypto';
import { CloudStackClient, type CloudStackClientOptions } from './cloudstack/cloudstack.client.js';
import type { CloudStack } from './cloudstack/cloudstack.port.js';
import type { CloudIds } from './cloudstack/cloudstack.types.js';
import { startSimulator } from './cloudstack/simulator/simulator.server.js';
import type { CloudConfig } from './config.js';
import type { Logger } from './logger.js';

/** The cloud the service drives, with the ids it deploys into. */
export interface CloudConnection {
  readonly cloudStack: CloudStack;
  /** Where failover VMs go: zone, boot template, customised offering, and the appliance VM. */
  readonly ids: CloudIds;
  /** `simulator` when the embedded default runs its own cloud in-process. */
  readonly kind: CloudConfig['kind'];
  /** The simulator's base URL (embedded default only), for its admin endpoint. */
  readonly simulatorUrl?: string;
  close(): Promise<void>;
}

/**
 * Part of the composition root: chooses the cloud the service drives. The CloudStack client
 * never knows the simulator; this is the one place that starts it.
 *
 * Connects to the configured CloudStack. With no CLOUDSTACK_* configuration (the embedded
 * default) it starts the simulator in-process on loopback, with keys made up for this run and
 * its state in `stateFile`, so a restarted service finds the cloud as it left it.
 */
export async function connectCloud(
  config: CloudConfig,
  logger: Logger,
  clientOptions: Partial<Pick<CloudStackClientOptions, 'pollBackoff' | 'retryBackoff' | 'operationDeadlineMs' | 'requestTimeoutMs'>> = {},
): Promise<CloudConnection> {
  const cloudLogger = logger.child({ component: 'cloudstack' });
  if (config.kind === 'remote') {
    const { url, apiKey, secretKey, zoneId, templateId, serviceOfferingId, applianceVmIds, projectId } = config;
    return {
      kind: config.kind,
      cloudStack: new CloudStackClient({ url, apiKey, secretKey, logger: cloudLogger, ...clientOptions }),
      ids: { zoneId, templateId, serviceOfferingId, applianceVmIds, ...(projectId ? { projectId } : {}) },
      close: async () => {},
    };
  }
  const apiKey = randomBytes(24).toString('base64url');
  const secretKey = randomBytes(32).toString('base64url');
  const simulator = await startSimulator({ port: 0, apiKey, secretKey, stateFile: config.stateFile, logger: cloudLogger });
  logger.info({ url: simulator.url, stateFile: config.stateFile }, 'CloudStack simulator running in-process');
  return {
    kind: config.kind,
    cloudStack: new CloudStackClient({ url: simulator.apiUrl, apiKey, secretKey, logger: cloudLogger, ...clientOptions }),
    ids: simulator.ids,
    simulatorUrl: simulator.url,
    close: () => simulator.close(),
  };
}
