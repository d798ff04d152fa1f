import { CbtHistory } from './cbt-history.entity.js';
import { FailoverJob } from './failover-job.entity.js';
import { NetworkMapping } from './network-mapping.entity.js';
import { OsseaVolume } from './ossea-volume.entity.js';
import { ReplicationJob } from './replication-job.entity.js';
import { VmDisk } from './vm-disk.entity.js';

export * from './enums.js';
export { CbtHistory, FailoverJob, NetworkMapping, OsseaVolume, ReplicationJob, VmDisk };

/** Every entity, listed explicitly (folder discovery breaks under test runners and in dist/). */
export const ENTITIES = [FailoverJob, NetworkMapping, VmDisk, OsseaVolume, CbtHistory, ReplicationJob];
