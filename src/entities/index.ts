import { ApiKey } from './api-key.entity.js';
import { AuditEntry } from './audit-entry.entity.js';
import { CbtHistory } from './cbt-history.entity.js';
import { FailoverEvent, FailoverSequence } from './failover-event.entity.js';
import { FailoverExecution } from './failover-execution.entity.js';
import { FailoverJob } from './failover-job.entity.js';
import { FailoverLedgerEntry } from './failover-ledger-entry.entity.js';
import { NetworkMapping } from './network-mapping.entity.js';
import { OsseaVolume } from './ossea-volume.entity.js';
import { ReplicationJob } from './replication-job.entity.js';
import { VmDirectoryEntry, VmDirectoryTotals } from './vm-directory.entity.js';
import { VmDisk } from './vm-disk.entity.js';
import {
  IdempotencyKeyRow,
  PlanExecutionEventRow,
  PlanExecutionRow,
  PlanExecutionVmRow,
  PlanExecutionWaveRow,
  RecoveryPlanRow,
  RecoveryPlanVmRow,
  RecoveryPlanWaveRow,
} from './recovery-plan.entity.js';

export * from './enums.js';
export { ExecutionPhase, FlowName } from './failover-execution.entity.js';
export { LedgerState } from './failover-ledger-entry.entity.js';
export {
  ApiKey,
  AuditEntry,
  CbtHistory,
  FailoverEvent,
  FailoverExecution,
  FailoverJob,
  FailoverLedgerEntry,
  FailoverSequence,
  IdempotencyKeyRow,
  NetworkMapping,
  OsseaVolume,
  PlanExecutionEventRow,
  PlanExecutionRow,
  PlanExecutionVmRow,
  PlanExecutionWaveRow,
  RecoveryPlanRow,
  RecoveryPlanVmRow,
  RecoveryPlanWaveRow,
  ReplicationJob,
  VmDirectoryEntry,
  VmDirectoryTotals,
  VmDisk,
};

/** Every entity, listed explicitly (folder discovery breaks under test runners and in dist/). */
export const ENTITIES = [
  FailoverJob,
  NetworkMapping,
  VmDisk,
  OsseaVolume,
  CbtHistory,
  ReplicationJob,
  FailoverExecution,
  FailoverLedgerEntry,
  FailoverEvent,
  FailoverSequence,
  ApiKey,
  AuditEntry,
  VmDirectoryEntry,
  VmDirectoryTotals,
  RecoveryPlanRow,
  RecoveryPlanWaveRow,
  RecoveryPlanVmRow,
  PlanExecutionRow,
  PlanExecutionWaveRow,
  PlanExecutionVmRow,
  PlanExecutionEventRow,
  IdempotencyKeyRow,
];
export * from './failover-job.codec.js';
export * from './plan.codec.js';
