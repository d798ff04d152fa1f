import type { EntityManager } from '@mikro-orm/core';
import { RecoveryPlanVmRow, RecoveryPlanWaveRow, VmDirectoryEntry } from '../entities/index.js';

/** The VMs the appliance replicates among `vmIds`, with their names. */
export async function knownVms(em: EntityManager, vmIds: readonly string[]): Promise<Map<string, string>> {
  const known = new Map<string, string>();
  const fork = em.fork();
  for (let i = 0; i < vmIds.length; i += 500) {
    const rows = await fork.find(VmDirectoryEntry, { vmId: { $in: vmIds.slice(i, i + 500) } }, { fields: ['vmId', 'vmName'], disableIdentityMap: true });
    for (const row of rows) known.set(row.vmId, row.vmName);
  }
  return known;
}

/** A plan's waves in order, each with its VMs in order (names from the appliance's index). */
export async function planWaves(
  em: EntityManager,
  planIds: readonly number[],
): Promise<Map<number, { order: number; vms: { vmId: string; name: string | null }[] }[]>> {
  const rows = await em.find(
    RecoveryPlanVmRow,
    { planId: { $in: [...planIds] } },
    { orderBy: { planId: 'asc', wavePosition: 'asc', position: 'asc' }, disableIdentityMap: true },
  );
  const waves = await em.find(
    RecoveryPlanWaveRow,
    { planId: { $in: [...planIds] } },
    { orderBy: { planId: 'asc', position: 'asc' }, disableIdentityMap: true },
  );
  const names = await knownVms(em, [...new Set(rows.map((r) => r.vmId))]);
  const out = new Map<number, { order: number; vms: { vmId: string; name: string | null }[] }[]>();
  for (const id of planIds) out.set(id, []);
  for (const wave of waves) out.get(wave.planId)!.push({ order: wave.position, vms: [] });
  for (const row of rows)
    out
      .get(row.planId)
      ?.find((w) => w.order === row.wavePosition)
      ?.vms.push({ vmId: row.vmId, name: names.get(row.vmId) ?? null });
  return out;
}
