import type { EntityManager } from '@mikro-orm/core';
import { NetworkMapping } from '../entities/index.js';
import { badInput } from '../errors.js';

/**
 * Test isolation: a test failover only ever uses test networks, a live failover only production
 * ones. A destination network is production when some VM's production (live) mapping points at
 * it, and test when some test mapping does; a network may never be both. Booting a test copy on
 * a production network would put it next to the production VM it copies (same host name, same
 * addresses). Checked for every mapping written and every override of a failover.
 */

const kindOf = (isTest: boolean) => (isTest ? 'test' : 'production');

/**
 * Refuses (BAD_USER_INPUT on `field`) to use `destinationNetworkId` as a network of kind `isTest`
 * when a mapping of the other kind points at it.
 */
export async function requireNetworkOfKind(em: EntityManager, field: string, destinationNetworkId: string, isTest: boolean): Promise<void> {
  const clash = await em.fork().findOne(NetworkMapping, { destinationNetworkId, isTestNetwork: !isTest }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
  if (!clash) return;
  throw badInput(
    field,
    `Network ${destinationNetworkId.slice(0, 64)} is a ${kindOf(!isTest)} network (the ${kindOf(!isTest)} mapping of "${clash.sourceNetworkName.slice(0, 64)}" for VM ${clash.vmId} uses it): a ${isTest ? 'test' : 'live'} failover never uses a ${kindOf(!isTest)} network`,
  );
}
