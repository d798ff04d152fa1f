import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { FailoverJob } from '../entities/failover-job.entity.js';
import { FailoverType } from '../entities/enums.js';
import { NetworkMapping } from '../entities/network-mapping.entity.js';
import type { Context } from '../server/context.js';
import { vmReadiness } from '../services/readiness.js';
import { listVirtualMachines } from '../services/virtual-machines.js';
import { VmReadiness } from './readiness.type.js';
import { ReplicationJobSummary, VirtualMachine, VirtualMachineConnection, VirtualMachineDisk, VirtualMachineFilter } from './virtual-machine.type.js';
import { specFromFact, VmSpec } from './vm-spec.type.js';

/**
 * The dashboard's VM list. Every field below reads the same batched facts, so a page costs a
 * constant number of statements whatever its size.
 */
@Resolver(() => VirtualMachine)
export class VirtualMachineResolver {
  @Query(() => VirtualMachineConnection, { description: 'VMs the appliance replicates, by name.' })
  virtualMachines(
    @Ctx() { em, maxPageSize }: Context,
    @Arg('filter', () => VirtualMachineFilter, { nullable: true }) filter?: VirtualMachineFilter,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number = 50,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<VirtualMachineConnection> {
    return listVirtualMachines(em, { filter, first, after, maxPageSize });
  }

  @FieldResolver(() => ReplicationJobSummary, { nullable: true })
  async latestReplicationJob(@Root() vm: VirtualMachine, @Ctx() { loaders }: Context): Promise<ReplicationJobSummary | null> {
    return (await loaders.vmFacts.load(vm.vmId)).latestReplication;
  }

  @FieldResolver(() => VmSpec, { nullable: true })
  async spec(@Root() vm: VirtualMachine, @Ctx() { loaders }: Context): Promise<VmSpec | null> {
    const { spec } = await loaders.vmFacts.load(vm.vmId);
    return spec ? specFromFact(spec) : null;
  }

  @FieldResolver(() => [VirtualMachineDisk], { description: 'Disks of the latest replication job, OS disk first.' })
  async disks(@Root() vm: VirtualMachine, @Ctx() { loaders }: Context): Promise<VirtualMachineDisk[]> {
    const { disks } = await loaders.vmFacts.load(vm.vmId);
    return disks.map((d) => ({
      diskId: d.diskId,
      unitNumber: d.unitNumber,
      sizeGb: d.sizeGb,
      label: d.label,
      volumeId: d.volume?.volumeId ?? null,
      volumeName: d.volume?.volumeName ?? null,
      volumeStatus: d.volume?.status ?? null,
    }));
  }

  @FieldResolver(() => [NetworkMapping])
  async networkMappings(@Root() vm: VirtualMachine, @Ctx() { loaders }: Context): Promise<readonly NetworkMapping[]> {
    return (await loaders.vmFacts.load(vm.vmId)).mappings;
  }

  @FieldResolver(() => FailoverJob, { nullable: true, description: 'The failover job running now, if any.' })
  async activeJob(@Root() vm: VirtualMachine, @Ctx() { loaders }: Context): Promise<FailoverJob | null> {
    return (await loaders.vmFacts.load(vm.vmId)).activeJob;
  }

  @FieldResolver(() => FailoverJob, { nullable: true, description: 'The most recent failover job, whatever its status.' })
  async latestJob(@Root() vm: VirtualMachine, @Ctx() { loaders }: Context): Promise<FailoverJob | null> {
    return (await loaders.vmFacts.load(vm.vmId)).latestJob;
  }

  @FieldResolver(() => VmReadiness, { description: 'Database checks only: a page never calls the cloud per VM.' })
  readiness(@Root() vm: VirtualMachine, @Arg('type', () => FailoverType) type: FailoverType, @Ctx() { loaders }: Context): Promise<VmReadiness> {
    return vmReadiness(loaders, vm.vmId, type) as Promise<VmReadiness>;
  }
}
