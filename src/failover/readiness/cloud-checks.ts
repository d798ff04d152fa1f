import type { CloudStackReader } from '../../cloudstack/cloudstack.port.js';
import { VmState, VolumeState, type CloudIds } from '../../cloudstack/cloudstack.types.js';
import { ApiErrorCode, CloudStackErrorKind, isCloudStackError } from '../../cloudstack/errors.js';
import { FailoverType } from '../../entities/enums.js';
import type { DiskFact } from '../../inventory/vm-facts.js';
import { hostName } from '../engine/plan.js';
import { CheckKind, fail, kindOfFailover, pass, type ReadinessRule } from './check.js';
import { DATABASE_CHECKS } from './database-checks.js';

/** What the cloud checks are given: the CloudStack to ask (read-only) and where the appliance lives in it. */
export interface CloudCheckContext {
  readonly cloudStack: CloudStackReader;
  readonly ids: Pick<CloudIds, 'zoneId' | 'applianceVmIds'>;
}

/**
 * True when CloudStack refused a lookup by id because the id matches nothing: a real CloudStack
 * translates an `id` it cannot resolve into a 431 ("… or entity does not exist …") rather than an
 * empty list. Any other failure means the cloud could not be asked, and is not an answer.
 */
const isUnknownId = (error: unknown): boolean =>
  isCloudStackError(error, CloudStackErrorKind.API) && error.errorCode === ApiErrorCode.PARAM_ERROR && /entity does not exist/i.test(error.errorText ?? '');

/** The resource with `id`, or undefined when CloudStack has none (an empty list or its 431); other failures propagate. */
export async function findById<T extends { readonly id: string }>(list: () => Promise<T[]>, id: string): Promise<T | undefined> {
  try {
    return (await list()).find((item) => item.id === id);
  } catch (error) {
    if (isUnknownId(error)) return undefined;
    throw error;
  }
}

/** Looks every distinct id up at once (one call each); a failed lookup rejects the whole. */
async function findAll<T extends { readonly id: string }>(ids: readonly string[], list: (id: string) => Promise<T[]>): Promise<Map<string, T | undefined>> {
  const distinct = [...new Set(ids)];
  const found = await Promise.all(distinct.map((id) => findById(() => list(id), id)));
  return new Map(distinct.map((id, i) => [id, found[i]]));
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const describeDisk = (disk: DiskFact) => `volume ${disk.volume!.volumeName} (${disk.volume!.volumeId}) of ${disk.label ?? `disk ${disk.diskId}`}`;

/**
 * Each replicated volume exists in CloudStack, is Ready, is attached to an appliance VM and is in
 * the appliance's zone — the slot it holds there is the one its cleanup or revert puts it back in —
 * and CloudStack can revert its snapshots: a snapshot of it the cloud already has that says
 * `revertable: false` (no snapshot strategy of its storage reverts) means a cleanup or revert could
 * not restore it. Without one the cloud cannot tell yet; the snapshot step checks the failover's
 * own snapshot before anything boots on the volume. The volumes are looked up concurrently, one
 * call each, then their snapshots; every problem is reported, not only the first.
 */
export const volumesReady: ReadinessRule<CloudCheckContext> = {
  name: 'cloud_volumes_ready',
  kind: CheckKind.CLOUD,
  requires: ['disk_volumes'],
  evaluate: async ({ facts, cloud: { cloudStack, ids } }) => {
    const disks = facts.disks.filter((d) => d.volume);
    const volumes = await findAll(
      disks.map((d) => d.volume!.volumeId),
      (id) => cloudStack.listVolumes({ id }),
    );
    const problems: string[] = [];
    for (const disk of disks) {
      const volume = volumes.get(disk.volume!.volumeId);
      if (!volume) {
        problems.push(`${describeDisk(disk)} does not exist in CloudStack`);
        continue;
      }
      const wrong: string[] = [];
      if (volume.state !== VolumeState.READY) wrong.push(`is ${volume.state}, not ${VolumeState.READY}`);
      if (volume.virtualMachineId === undefined) wrong.push('is not attached to any VM, not to the appliance');
      else if (!ids.applianceVmIds.includes(volume.virtualMachineId)) {
        wrong.push(`is attached to VM ${volume.virtualMachineId}${volume.vmName ? ` (${volume.vmName})` : ''}, not the appliance`);
      }
      if (volume.zoneId !== ids.zoneId) wrong.push(`is in zone ${volume.zoneId ?? '(none)'}, not zone ${ids.zoneId}`);
      if (wrong.length > 0) problems.push(`${describeDisk(disk)} ${wrong.join(' and ')}`);
    }
    const present = disks.filter((d) => volumes.get(d.volume!.volumeId));
    const snapshots = await Promise.all(present.map((d) => cloudStack.listSnapshots({ volumeId: d.volume!.volumeId })));
    for (const [i, disk] of present.entries()) {
      const stuck = snapshots[i]!.find((snapshot) => snapshot.revertable === false);
      if (stuck) {
        problems.push(
          `${describeDisk(disk)} has snapshots CloudStack cannot revert (snapshot ${stuck.id}: revertable false, its storage has no snapshot strategy that reverts): a cleanup or revert could not restore it`,
        );
      }
    }
    if (problems.length > 0) return fail(capitalised(problems.join('; ')));
    return pass(`${plural(volumes.size, 'volume')} Ready in CloudStack, attached to the appliance`);
  },
};

/**
 * Each destination network the VM's source networks map to, for the kind of failover asked
 * about, exists in CloudStack and is in the appliance's zone. The networks are looked up
 * concurrently, one call each; every missing or misplaced network is reported.
 */
export const destinationNetworks: ReadinessRule<CloudCheckContext> = {
  name: 'cloud_destination_networks',
  kind: CheckKind.CLOUD,
  requires: ['network_mappings'],
  evaluate: async ({ facts, type, cloud: { cloudStack, ids } }) => {
    const wantTest = type === FailoverType.TEST;
    const kind = wantTest ? 'test' : 'production';
    const sources = facts.spec?.networks ?? [];
    const mapped = sources.map((source) => ({
      source: source.name,
      mapping: facts.mappings.find((m) => m.sourceNetworkName === source.name && Boolean(m.isTestNetwork) === wantTest),
    }));
    // network_mappings (required) has checked these; said again rather than looked up on faith.
    if (sources.length === 0) return fail('The VM has no known source networks');
    const unmapped = mapped.filter((m) => !m.mapping).map((m) => `"${m.source}"`);
    if (unmapped.length > 0) return fail(`No ${kind} network mapping for ${unmapped.join(', ')} (needed for a ${kindOfFailover(type)} failover)`);
    const networks = await findAll(
      mapped.map((m) => m.mapping!.destinationNetworkId),
      (id) => cloudStack.listNetworks({ id }),
    );
    const problems: string[] = [];
    for (const { source, mapping } of mapped) {
      const { destinationNetworkId: id, destinationNetworkName: name } = mapping!;
      const network = networks.get(id);
      const described = `the ${kind} network ${name ? `"${name}" ` : ''}(${id}) that "${source}" maps to`;
      if (!network) problems.push(`${described} does not exist in CloudStack`);
      else if (network.zoneId !== ids.zoneId) problems.push(`${described} is in zone ${network.zoneId ?? '(none)'}, not zone ${ids.zoneId}`);
    }
    if (problems.length > 0) return fail(capitalised(problems.join('; ')));
    const found = [...networks.values()].map((n) => `"${n!.name}"`);
    return pass(`${plural(found.length, `${kind} network`)} found in CloudStack: ${found.join(', ')}`);
  },
};

/**
 * The cleanup (test) or revert (live) can be done with this key: listCapabilities says whether it
 * may expunge (`allowuserexpungerecovervm`); where it may not, the failover VM is destroyed and
 * left for the cloud to expunge after its `expunge.delay`, keeping its host name meanwhile. A test
 * VM has a name of its own per job; a live VM carries the source's, so a live failover is refused
 * while a VM — a Destroyed one not yet expunged included — holds that name on a production network
 * it would join.
 */
export const unwindPossible: ReadinessRule<CloudCheckContext> = {
  name: 'cloud_unwind_possible',
  kind: CheckKind.CLOUD,
  requires: ['cloud_destination_networks'],
  evaluate: async ({ facts, type, cloud: { cloudStack, ids } }) => {
    const { allowUserExpungeRecoverVm: mayExpunge, allowUserViewDestroyedVm: seesDestroyed } = await cloudStack.listCapabilities();
    const how = mayExpunge ? 'expunges the VM' : 'destroys the VM (this key may not expunge: the cloud expunges it after its expunge.delay)';
    if (type === FailoverType.TEST) return pass(`A cleanup ${how}`);
    const name = hostName(facts.name ?? facts.vmId);
    const networks = new Set(facts.mappings.filter((m) => !m.isTestNetwork).map((m) => m.destinationNetworkId));
    const holders = (await cloudStack.listVirtualMachines({ name, zoneId: ids.zoneId })).filter(
      (vm) => vm.state !== VmState.EXPUNGING && vm.nics.some((n) => networks.has(n.networkId)),
    );
    if (holders.length > 0) {
      const [vm] = holders;
      const state =
        vm!.state === VmState.DESTROYED ? ', Destroyed but not yet expunged (the cloud frees the name after its expunge.delay),' : ` (${vm!.state})`;
      return fail(`Host name ${name} is held by VM ${vm!.id}${state} on a production network the failover VM joins`);
    }
    // A key that may neither expunge nor see Destroyed VMs cannot tell whether a revert's VM still holds the name.
    const blind =
      !mayExpunge && !seesDestroyed ? ' (this key sees no Destroyed VM: one an earlier revert left holds the name until the cloud expunges it)' : '';
    return pass(`Host name ${name} is free on the production networks${blind}; a revert ${how}`);
  },
};

/** The cloud checks, in the order they are reported (after the database checks). */
export const CLOUD_CHECKS: readonly ReadinessRule<CloudCheckContext>[] = [volumesReady, destinationNetworks, unwindPossible];

/** Every readiness check, database first, then cloud: what a single VM's readiness runs. */
export const READINESS_CHECKS: readonly ReadinessRule<CloudCheckContext>[] = [...DATABASE_CHECKS, ...CLOUD_CHECKS];
