import type { EntityManager } from '@mikro-orm/core';
import DataLoader from 'dataloader';
import { loadVmFacts, type VmFacts } from '../inventory/vm-facts.js';
import type { Logger } from '../logger.js';
import type { AuthContext, Principal } from './auth.js';

/** Per-request batch loaders: everything a page asks of the same VMs is read once, in batches. */
export interface Loaders {
  readonly vmFacts: DataLoader<string, VmFacts>;
}

/** What every resolver receives: a request-scoped EntityManager, loaders, and the service's settings. */
export interface Context extends AuthContext {
  readonly em: EntityManager;
  readonly loaders: Loaders;
  readonly logger: Logger;
  readonly maxPageSize: number;
}

/** Builds the per-request loaders on a forked EntityManager. */
export function createLoaders(em: EntityManager): Loaders {
  return {
    vmFacts: new DataLoader(async (vmIds) => {
      const facts = await loadVmFacts(em, vmIds);
      return vmIds.map((id) => facts.get(id)!);
    }),
  };
}

/** A fresh context: forks the ORM's EntityManager so requests never share an identity map. */
export function createContext(
  root: EntityManager,
  { logger, maxPageSize, principal, authEnabled }: { logger: Logger; maxPageSize: number; principal: Principal | null; authEnabled: boolean },
): Context {
  const em = root.fork();
  return { em, loaders: createLoaders(em), logger: principal ? logger.child({ token: principal.tokenId }) : logger, maxPageSize, principal, authEnabled };
}
