import { readJsonObject } from '../entities/failover-job.codec.js';
import { Field, Int, ObjectType } from 'type-graphql';
import type { VmSpecFact } from '../inventory/vm-facts.js';

/** A network adapter of the source VM. */
@ObjectType({ simpleResolvers: true })
export class SourceNetwork {
  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  adapterType?: string | null;
}

/** The source VM's specification, as replicated (or as a job recorded it when it started). */
@ObjectType({ simpleResolvers: true })
export class VmSpec {
  @Field(() => Int)
  cpuCount!: number;

  @Field(() => Int)
  memoryMb!: number;

  @Field(() => String, { nullable: true })
  osType?: string | null;

  @Field(() => String, { nullable: true })
  displayName?: string | null;

  @Field(() => String, { nullable: true })
  powerState?: string | null;

  @Field(() => [SourceNetwork])
  networks!: SourceNetwork[];
}

/** The spec of a VM as the inventory knows it. */
export function specFromFact(fact: VmSpecFact): VmSpec {
  return {
    cpuCount: fact.cpuCount,
    memoryMb: fact.memoryMb,
    osType: fact.osType || null,
    displayName: fact.displayName || null,
    powerState: fact.powerState || null,
    networks: fact.networks.map((n) => ({ name: n.name, adapterType: n.adapterType })),
  };
}

/**
 * Reads `failover_jobs.source_vm_spec` (the seed's JSON: `cpus`, `memory_mb`, `os_type`,
 * `display_name`, `power_state`, `networks[{network_name, adapter_type}]`). Null when absent or
 * unreadable: a job row written by another tool must never break a listing.
 */
export function specFromJson(raw: string | null | undefined): VmSpec | null {
  const json = readJsonObject(raw);
  if (!json) return null;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const networks = Array.isArray(json.networks) ? json.networks : [];
  return {
    cpuCount: Number(json.cpus ?? json.cpu_count ?? 0) || 0,
    memoryMb: Number(json.memory_mb ?? 0) || 0,
    osType: text(json.os_type),
    displayName: text(json.display_name),
    powerState: text(json.power_state),
    networks: networks
      .map((n) => n as Record<string, unknown>)
      .filter((n) => typeof n.network_name === 'string')
      .map((n) => ({ name: String(n.network_name), adapterType: text(n.adapter_type) })),
  };
}
