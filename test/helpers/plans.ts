import type { Client } from 'graphql-ws';
import { DEMO_VMS, type DemoVm } from '../../src/demo/demo-world.js';
import { subscribeStream, type Stream } from './graphql.js';

/** The demo VM of this name. */
export const demoVm = (name: string): DemoVm => DEMO_VMS.find((vm) => vm.name === name)!;

export const PLAN_FIELDS = 'id name description maxInFlight failurePolicy createdAt updatedAt waves { order vms { vmId name } }';
export const EXECUTION_FIELDS = `id type status progressPercent startedAt completedAt durationSeconds requestedBy errorMessage
  plan { id name }
  waves { order status startedAt completedAt jobs { jobId vmId status requestedBy planExecutionId } }
  vms { vmId wavePosition state unwindState jobId errorMessage }`;

export const CREATE_PLAN = `mutation ($input: RecoveryPlanInput!) { createRecoveryPlan(input: $input) { ${PLAN_FIELDS} } }`;
export const UPDATE_PLAN = `mutation ($id: ID!, $input: RecoveryPlanInput!) { updateRecoveryPlan(id: $id, input: $input) { ${PLAN_FIELDS} } }`;
export const DELETE_PLAN = `mutation ($id: ID!) { deleteRecoveryPlan(id: $id) { id deletedAt } }`;
export const START_PLAN = `mutation ($input: StartPlanExecutionInput!) { startPlanExecution(input: $input) { ${EXECUTION_FIELDS} } }`;
export const CANCEL_PLAN = `mutation ($id: ID!) { cancelPlanExecution(id: $id) { ${EXECUTION_FIELDS} } }`;
export const CLEANUP_PLAN = `mutation ($id: ID!) { cleanupPlanExecution(id: $id) { ${EXECUTION_FIELDS} } }`;
export const REVERT_PLAN = `mutation ($id: ID!) { revertPlanExecution(id: $id) { ${EXECUTION_FIELDS} } }`;
export const EXECUTION = `query ($id: ID!) { planExecution(id: $id) { ${EXECUTION_FIELDS} } }`;

/** One plan execution event as a test subscribes to it. */
export interface PlanEventRecord {
  sequence: number;
  executionSequence: number;
  executionId: string;
  planId: string;
  kind: string;
  status: string;
  previousStatus: string | null;
  wave: number | null;
  vmId: string | null;
  jobId: string | null;
  progressPercent: number;
  message: string | null;
}

const PLAN_EVENTS = `subscription ($executionId: ID, $planId: ID, $afterSequence: Int) {
  planExecutionEvents(executionId: $executionId, planId: $planId, afterSequence: $afterSequence) {
    sequence executionSequence executionId planId kind status previousStatus wave vmId jobId progressPercent message
  }
}`;

/** A live subscription to plan execution events over a real graphql-ws client. */
export type PlanEventStream = Stream<PlanEventRecord>;

/** Subscribes to `planExecutionEvents` on `client`. */
export function subscribePlanEvents(client: Client, variables: { executionId?: string; planId?: string; afterSequence?: number } = {}): PlanEventStream {
  return subscribeStream<PlanEventRecord>(client, {
    query: PLAN_EVENTS,
    field: 'planExecutionEvents',
    variables,
    noun: 'plan event',
    describe: (e) => [e.sequence, e.kind, e.status, e.vmId, e.message],
    timeoutMs: 60_000,
  });
}

/** A status the execution's current phase ends in. */
export const planSettled = (statuses: readonly string[]) => (e: PlanEventRecord) => e.kind === 'status' && statuses.includes(e.status);
