import { readSourceVmSpec } from '../entities/failover-job.codec.js';
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
 * Reads `failover_jobs.source_vm_spec` through the row's codec. Null when absent or unreadable: a
 * job row written by another tool must never break a listing.
 */
export function specFromJson(raw: string | null | undefined): VmSpec | null {
  const spec = readSourceVmSpec(raw);
  if (!spec) return null;
  const { cpus: cpuCount, memoryMb, osType, displayName, powerState, networks } = spec;
  return { cpuCount, memoryMb, osType, displayName, powerState, networks: networks.map((n) => ({ ...n })) };
}
