import {
  instanceName,
  type CloudState,
  type SimJob,
  type SimNetwork,
  type SimServiceOffering,
  type SimSnapshot,
  type SimTemplate,
  type SimVm,
  type SimVmSnapshot,
  type SimVolume,
  type SimZone,
} from './simulator.state.js';

/**
 * Records → the objects CloudStack puts in its answers. Fields that would be null are left out,
 * as the real serializer does.
 */

type Obj = Record<string, unknown>;

const ACCOUNT = { account: 'admin', domainid: '00000000-0000-4000-8000-0000000000d1', domain: 'ROOT' } as const;

/** `projectid`/`project` of a resource a project owns (absent otherwise). */
function ownedBy(state: CloudState, resource: { projectid?: string }): Obj {
  if (resource.projectid === undefined) return {};
  return { projectid: resource.projectid, project: state.project(resource.projectid)?.name };
}

function omitUndefined(obj: Obj): Obj {
  for (const key of Object.keys(obj)) if (obj[key] === undefined) delete obj[key];
  return obj;
}

/** A virtualmachine object. */
export function vmView(state: CloudState, vm: SimVm): Obj {
  const zone = state.zone(vm.zoneid);
  const template = state.template(vm.templateid);
  const offering = state.offering(vm.serviceofferingid);
  return omitUndefined({
    id: vm.id,
    name: vm.name,
    displayname: vm.displayname,
    instancename: instanceName(state.world, vm),
    ...ACCOUNT,
    ...ownedBy(state, vm),
    created: vm.created,
    state: vm.state,
    haenable: false,
    zoneid: vm.zoneid,
    zonename: zone?.name,
    templateid: vm.templateid,
    templatename: template?.name,
    serviceofferingid: vm.serviceofferingid,
    serviceofferingname: offering?.name,
    cpunumber: vm.cpunumber,
    cpuspeed: vm.cpuspeed,
    memory: vm.memory,
    hypervisor: vm.hypervisor,
    nic: vm.nics.map((nic) => {
      const network = state.network(nic.networkid);
      return omitUndefined({
        id: nic.id,
        networkid: nic.networkid,
        networkname: network?.name,
        deviceid: String(nic.deviceid),
        ipaddress: nic.ipaddress,
        macaddress: nic.macaddress,
        isdefault: nic.isdefault,
        traffictype: network?.traffictype,
        type: network?.type,
      });
    }),
  });
}

/** A volume object. */
export function volumeView(state: CloudState, volume: SimVolume): Obj {
  const vm = volume.virtualmachineid === undefined ? undefined : state.vm(volume.virtualmachineid);
  return omitUndefined({
    id: volume.id,
    name: volume.name,
    zoneid: volume.zoneid,
    zonename: state.zone(volume.zoneid)?.name,
    type: volume.type,
    deviceid: volume.deviceid,
    virtualmachineid: volume.virtualmachineid,
    vmname: vm?.name,
    vmdisplayname: vm?.displayname,
    vmstate: vm?.state,
    size: volume.size,
    created: volume.created,
    attached: volume.attached,
    state: volume.state,
    ...ACCOUNT,
    ...ownedBy(state, volume),
    storagetype: 'shared',
    hypervisor: vm?.hypervisor,
    templateid: volume.templateid,
    destroyed: volume.state === 'Destroy',
  });
}

/** A snapshot object. */
export function snapshotView(state: CloudState, snapshot: SimSnapshot): Obj {
  const volume = state.world.volumes.find((v) => v.id === snapshot.volumeid);
  return omitUndefined({
    id: snapshot.id,
    name: snapshot.name,
    ...ACCOUNT,
    ...ownedBy(state, snapshot),
    snapshottype: snapshot.snapshottype,
    volumeid: snapshot.volumeid,
    volumename: volume?.name,
    volumetype: snapshot.volumetype,
    created: snapshot.created,
    intervaltype: snapshot.intervaltype,
    state: snapshot.state,
    zoneid: snapshot.zoneid,
    revertable: snapshot.revertable ?? true,
    locationtype: 'PRIMARY',
  });
}

/** A vmsnapshot object (VMSnapshotResponse). */
export function vmSnapshotView(state: CloudState, snapshot: SimVmSnapshot): Obj {
  const vm = state.world.vms.find((v) => v.id === snapshot.virtualmachineid);
  const parent = snapshot.parent === undefined ? undefined : state.world.vmSnapshots.find((s) => s.id === snapshot.parent);
  return omitUndefined({
    id: snapshot.id,
    name: snapshot.name,
    state: snapshot.state,
    description: snapshot.description,
    displayname: snapshot.displayname,
    created: snapshot.created,
    zoneid: snapshot.zoneid,
    zonename: state.zone(snapshot.zoneid)?.name,
    virtualmachineid: snapshot.virtualmachineid,
    virtualmachinename: vm?.displayname || vm?.name,
    hypervisor: vm?.hypervisor,
    parent: parent?.id,
    parentName: parent?.displayname,
    type: snapshot.type,
    current: snapshot.current,
    ...ACCOUNT,
  });
}

/** A network object. */
export function networkView(state: CloudState, network: SimNetwork): Obj {
  return omitUndefined({
    id: network.id,
    name: network.name,
    displaytext: network.name,
    zoneid: network.zoneid,
    zonename: state.zone(network.zoneid)?.name,
    type: network.type,
    state: network.state,
    cidr: network.cidr,
    networkdomain: network.networkdomain,
    traffictype: network.traffictype,
    canusefordeploy: network.canusefordeploy,
    ...ACCOUNT,
  });
}

/** A serviceoffering object. */
export function offeringView(offering: SimServiceOffering): Obj {
  return omitUndefined({ ...offering });
}

/** A zone object. */
export function zoneView(zone: SimZone): Obj {
  return { ...zone };
}

/** A template object. */
export function templateView(state: CloudState, template: SimTemplate): Obj {
  return omitUndefined({ ...template, zonename: state.zone(template.zoneid)?.name, status: 'Download Complete', ...ACCOUNT });
}

/** The queryAsyncJobResult answer for a job (no jobresult while it runs). */
export function jobView(job: SimJob): Obj {
  return omitUndefined({
    accountid: '00000000-0000-4000-8000-0000000000a1',
    userid: '00000000-0000-4000-8000-0000000000b1',
    cmd: job.cmd,
    jobstatus: job.jobstatus,
    jobprocstatus: job.jobprocstatus,
    jobresultcode: job.jobresultcode,
    jobresulttype: job.jobresulttype,
    jobresult: job.jobresult,
    jobinstancetype: job.jobinstancetype,
    jobinstanceid: job.jobinstanceid,
    created: job.created,
    completed: job.completed,
    jobid: job.jobid,
  });
}
