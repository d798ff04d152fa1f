import type { Client } from 'graphql-ws';
import { DEMO_VMS, type DemoVm } from '../../src/demo/demo-world.js';

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
export interface PlanEventStream {
  readonly events: PlanEventRecord[];
  readonly errors: unknown[];
  until(predicate: (event: PlanEventRecord) => boolean, timeoutMs?: number): Promise<PlanEventRecord>;
  dispose(): void;
}

/** Subscribes to `planExecutionEvents` on `client`. */
export function subscribePlanEvents(client: Client, variables: { executionId?: string; planId?: string; afterSequence?: number } = {}): PlanEventStream {
  const events: PlanEventRecord[] = [];
  const errors: unknown[] = [];
  const waiters: { predicate: (e: PlanEventRecord) => boolean; resolve: (e: PlanEventRecord) => void }[] = [];
  const dispose = client.subscribe<{ planExecutionEvents: PlanEventRecord }>(
    { query: PLAN_EVENTS, variables },
    {
      next: (value) => {
        if (value.errors) errors.push(value.errors);
        const event = value.data?.planExecutionEvents;
        if (!event) return;
        events.push(event);
        for (const waiter of [...waiters]) {
          if (waiter.predicate(event)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(event);
          }
        }
      },
      error: (error) => errors.push(error),
      complete: () => {},
    },
  );
  return {
    events,
    errors,
    until(predicate, timeoutMs = 60_000) {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching plan event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => [e.sequence, e.kind, e.status, e.vmId, e.message]))} errors ${JSON.stringify(errors)}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
    dispose,
  };
}

/** A status the execution's current phase ends in. */
export const planSettled = (statuses: readonly string[]) => (e: PlanEventRecord) => e.kind === 'status' && statuses.includes(e.status);
