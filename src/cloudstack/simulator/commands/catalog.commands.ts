import { jobView, networkView, offeringView, templateView, zoneView } from '../simulator.views.js';
import { list, where, type CommandHandler } from './command.js';

/** Read-only commands: zones, templates, offerings, networks, and queryAsyncJobResult. */

const TEMPLATE_FILTERS = new Set(['featured', 'self', 'selfexecutable', 'sharedexecutable', 'executable', 'community', 'all']);

const listZones: CommandHandler = ({ state, params }) => list('zone', where(params, state.world.zones, { id: 'id', name: 'name' }).map(zoneView));

const listTemplates: CommandHandler = ({ state, params }) => {
  const filter = params.required('templatefilter');
  if (!TEMPLATE_FILTERS.has(filter.toLowerCase())) throw params.invalid('templatefilter', filter);
  const templates = where(params, state.world.templates, { id: 'id', name: 'name', zoneid: 'zoneid' });
  return list(
    'template',
    templates.map((t) => templateView(state, t)),
  );
};

const listServiceOfferings: CommandHandler = ({ state, params }) =>
  list('serviceoffering', where(params, state.world.serviceOfferings, { id: 'id', name: 'name' }).map(offeringView));

const listNetworks: CommandHandler = ({ state, params }) => {
  const networks = where(params, state.world.networks, {
    id: 'id',
    zoneid: 'zoneid',
    name: 'name',
    canusefordeploy: (n, value) => String(n.canusefordeploy) === value.toLowerCase(),
  });
  return list(
    'network',
    networks.map((n) => networkView(state, n)),
  );
};

/** The CloudStack release the simulator answers as (listCapabilities). */
export const SIMULATED_VERSION = '4.19.1.0';

/**
 * listCapabilities: what a client may ask the cloud about itself (CapabilitiesResponse field
 * names). `allowuserexpungerecovervm` is the setting or the caller being an admin (ListCapabilitiesCmd).
 */
const listCapabilities: CommandHandler = ({ state }) => {
  const s = state.settings;
  return {
    kind: 'object',
    key: 'capability',
    value: {
      cloudstackversion: SIMULATED_VERSION,
      kvmsnapshotenabled: s.kvmSnapshotEnabled,
      allowuserexpungerecovervm: s.allowUserExpungeRecoverVm || s.callerIsAdmin,
      allowuserviewdestroyedvm: s.allowUserViewDestroyedVm || s.callerIsAdmin,
      apilimitinterval: s.apiThrottlingIntervalSeconds,
      apilimitmax: s.apiThrottlingMax,
      projectinviterequired: false,
      userpublictemplateenabled: true,
    },
  };
};

const queryAsyncJobResult: CommandHandler = ({ state, params }) => ({ kind: 'fields', fields: jobView(params.need('jobid', state.job)) });

/** The catalog commands by name. */
export const CATALOG_COMMANDS: Record<string, CommandHandler> = {
  listZones,
  listTemplates,
  listServiceOfferings,
  listNetworks,
  listCapabilities,
  queryAsyncJobResult,
};
