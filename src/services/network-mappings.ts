import { systemChange, type ChangeRecord } from '../access/audit.js';
import { requireText } from '../arguments.js';
import { UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import type { Loaders } from './loaders.js';
import { NetworkMapping } from '../entities/index.js';
import { badInput, notFound } from '../errors.js';
import { requireNetworkOfKind } from '../inventory/network-kinds.js';

/** Which mapping: one source network of one VM, for one kind of failover. */
export interface NetworkMappingKeyInput {
  readonly vmId: string;
  readonly sourceNetworkName: string;
  readonly isTestNetwork: boolean;
}

/** A mapping to create or replace. */
export interface SetNetworkMappingInput extends NetworkMappingKeyInput {
  readonly destinationNetworkId: string;
  readonly destinationNetworkName: string;
}

/** The mappings of one VM, production first, in the order they were made. */
export function listNetworkMappings(em: EntityManager, vmId: string): Promise<NetworkMapping[]> {
  requireText('vmId', vmId);
  return em.find(NetworkMapping, { vmId }, { orderBy: { isTestNetwork: 'asc', id: 'asc' } });
}

/** Checks the VM exists and, when its spec lists source networks, that the network is one of them. */
async function requireSourceNetwork(loaders: Loaders, vmId: string, sourceNetworkName: string): Promise<void> {
  const facts = await loaders.vmFacts.load(vmId);
  if (!facts.known) throw notFound('VM', vmId);
  const networks = facts.spec?.networks ?? [];
  if (networks.length > 0 && !networks.some((n) => n.name === sourceNetworkName)) {
    throw badInput(
      'sourceNetworkName',
      `VM ${facts.name} has no source network "${sourceNetworkName}"; its networks are ${networks.map((n) => `"${n.name}"`).join(', ')}`,
    );
  }
}

/** Creates or replaces the mapping of one source network (for test or live). Idempotent. */
export async function setNetworkMapping(
  em: EntityManager,
  loaders: Loaders,
  input: SetNetworkMappingInput,
  record: ChangeRecord = systemChange('unattributed'),
): Promise<NetworkMapping> {
  requireText('vmId', input.vmId);
  requireText('sourceNetworkName', input.sourceNetworkName);
  requireText('destinationNetworkId', input.destinationNetworkId);
  requireText('destinationNetworkName', input.destinationNetworkName);
  await requireSourceNetwork(loaders, input.vmId, input.sourceNetworkName);
  await requireNetworkOfKind(em, 'destinationNetworkId', input.destinationNetworkId, input.isTestNetwork);
  const key = { vmId: input.vmId, sourceNetworkName: input.sourceNetworkName, isTestNetwork: input.isTestNetwork };
  // In a fork of its own: the request's context holds every mapping of the VM (the loaders read
  // them), and a flush there would write them all; this writes only the mapping it names.
  const upsert = () =>
    em.fork().transactional(async (tx) => {
      await record.inTransaction(tx, input.vmId);
      const existing = await tx.findOne(NetworkMapping, key);
      if (existing) {
        existing.destinationNetworkId = input.destinationNetworkId;
        existing.destinationNetworkName = input.destinationNetworkName;
        return existing;
      }
      return tx.create(NetworkMapping, { ...key, destinationNetworkId: input.destinationNetworkId, destinationNetworkName: input.destinationNetworkName });
    });
  try {
    return await upsert();
  } catch (error) {
    // A concurrent call created the same mapping between our read and insert: update that one.
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    return upsert();
  }
}

/** Deletes one mapping and returns it as it was; NOT_FOUND when there is none. */
export async function deleteNetworkMapping(
  em: EntityManager,
  key: NetworkMappingKeyInput,
  record: ChangeRecord = systemChange('unattributed'),
): Promise<NetworkMapping> {
  requireText('vmId', key.vmId);
  requireText('sourceNetworkName', key.sourceNetworkName);
  return em.transactional(async (tx) => {
    const mapping = await tx.findOne(NetworkMapping, { vmId: key.vmId, sourceNetworkName: key.sourceNetworkName, isTestNetwork: key.isTestNetwork });
    if (!mapping) {
      throw notFound(`${key.isTestNetwork ? 'Test' : 'Production'} network mapping of "${key.sourceNetworkName}" for VM`, key.vmId);
    }
    tx.remove(mapping);
    await record.inTransaction(tx, key.vmId);
    return mapping;
  });
}
