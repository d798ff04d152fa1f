import { raw, UniqueConstraintViolationException, type EntityManager } from '@mikro-orm/core';
import { systemChange, type ChangeRecord } from '../access/audit.js';
import { parseId, requireText } from '../arguments.js';
import { knownVms } from '../inventory/plan-waves.js';

export { planWaves } from '../inventory/plan-waves.js';
import {
  FailurePolicy,
  PlanExecutionRow,
  PlanExecutionVmRow,
  PlanExecutionWaveRow,
  RecoveryPlanRow,
  RecoveryPlanVmRow,
  RecoveryPlanWaveRow,
} from '../entities/index.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { checkFirst, decodeCursor, encodeCursor, page } from './pagination.js';

/** The bounds of a plan. */
export const PLAN_LIMITS = {
  nameLength: 100,
  descriptionLength: 1000,
  waves: 20,
  vms: 2000,
  maxInFlight: { min: 1, max: 100, default: 10 },
} as const;

/** A plan as the API gives it: `waves[i]` is wave i + 1 (its order is its position). */
export interface RecoveryPlanInput {
  readonly name: string;
  readonly description?: string | null;
  readonly waves: readonly { readonly vmIds: readonly string[] }[];
  readonly maxInFlight?: number | null;
  readonly failurePolicy?: FailurePolicy | null;
}

/** A checked plan input. */
export interface PlanDefinition {
  readonly name: string;
  readonly description: string | null;
  readonly waves: readonly (readonly string[])[];
  readonly maxInFlight: number;
  readonly failurePolicy: FailurePolicy;
}

/** Checks a plan input against {@link PLAN_LIMITS}; every VM must be one the appliance replicates. */
export async function checkPlanInput(em: EntityManager, input: RecoveryPlanInput): Promise<PlanDefinition> {
  const name = requireText('name', input.name, { max: PLAN_LIMITS.nameLength });
  if (name.trim() !== name) throw badInput('name', 'name must not start or end with spaces');
  const description = input.description ?? null;
  if (description !== null && description.length > PLAN_LIMITS.descriptionLength) {
    throw badInput('description', `description must be at most ${PLAN_LIMITS.descriptionLength} characters`);
  }
  if (input.waves.length < 1 || input.waves.length > PLAN_LIMITS.waves) throw badInput('waves', `a plan has 1 to ${PLAN_LIMITS.waves} waves`);
  const seen = new Map<string, number>();
  const waves = input.waves.map((wave, w) => {
    if (wave.vmIds.length === 0) throw badInput(`waves[${w}].vmIds`, `wave ${w + 1} must name at least one VM`);
    return wave.vmIds.map((vmId, i) => {
      requireText(`waves[${w}].vmIds[${i}]`, vmId, { label: 'a vmId' });
      const other = seen.get(vmId);
      if (other !== undefined) {
        throw badInput(
          `waves[${w}].vmIds[${i}]`,
          `VM ${vmId} is in wave ${other + 1}${other === w ? ' twice' : ` and wave ${w + 1}`}: a VM is in at most one wave of a plan`,
        );
      }
      seen.set(vmId, w);
      return vmId;
    });
  });
  if (seen.size > PLAN_LIMITS.vms) throw badInput('waves', `a plan holds at most ${PLAN_LIMITS.vms} VMs (got ${seen.size})`);
  const { min, max } = PLAN_LIMITS.maxInFlight;
  const maxInFlight = input.maxInFlight ?? PLAN_LIMITS.maxInFlight.default;
  if (!Number.isInteger(maxInFlight) || maxInFlight < min || maxInFlight > max)
    throw badInput('maxInFlight', `maxInFlight must be a whole number from ${min} to ${max}`);
  const known = await knownVms(em, [...seen.keys()]);
  const unknown = [...seen.keys()].filter((vmId) => !known.has(vmId));
  if (unknown.length > 0) {
    throw new AppError(
      ErrorCode.NOT_FOUND,
      `${unknown.length === 1 ? 'VM' : 'VMs'} ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''} not found: a plan names VMs the appliance replicates`,
      { field: 'waves', vmIds: unknown.slice(0, 100) },
    );
  }
  return { name, description, waves, maxInFlight, failurePolicy: input.failurePolicy ?? FailurePolicy.HALT };
}

async function writeWaves(tx: EntityManager, planId: number, waves: readonly (readonly string[])[]): Promise<void> {
  await tx.nativeDelete(RecoveryPlanVmRow, { planId });
  await tx.nativeDelete(RecoveryPlanWaveRow, { planId });
  await tx.insertMany(
    RecoveryPlanWaveRow,
    waves.map((_w, i) => ({ planId, position: i + 1 })),
  );
  const rows = waves.flatMap((vms, w) => vms.map((vmId, i) => ({ planId, vmId, wavePosition: w + 1, position: i + 1 })));
  for (let i = 0; i < rows.length; i += 500) await tx.insertMany(RecoveryPlanVmRow, rows.slice(i, i + 500));
}

const nameTaken = (name: string) => badInput('name', `a plan named "${name}" exists already`);

/** Creates a plan (and its audit record, in one transaction). */
export async function createPlan(em: EntityManager, input: RecoveryPlanInput, record: ChangeRecord = systemChange('unattributed')): Promise<RecoveryPlanRow> {
  const plan = await checkPlanInput(em, input);
  try {
    const id = await em.fork().transactional(async (tx) => {
      const now = new Date();
      const id = (await tx.insert(RecoveryPlanRow, {
        name: plan.name,
        nameLock: plan.name,
        description: plan.description,
        maxInFlight: plan.maxInFlight,
        failurePolicy: plan.failurePolicy,
        revision: 1,
        createdBy: record.requestedBy,
        createdAt: now,
        updatedAt: now,
      })) as number;
      await writeWaves(tx, id, plan.waves);
      await record.inTransaction(tx, String(id));
      return id;
    });
    return await em.fork().findOneOrFail(RecoveryPlanRow, { id }, { disableIdentityMap: true });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw nameTaken(plan.name);
    throw error;
  }
}

/** The active execution of a plan, read inside `tx` (after the plan's row was locked). */
async function activeExecution(tx: EntityManager, planId: number): Promise<PlanExecutionRow | null> {
  return tx.findOne(PlanExecutionRow, { activeLock: planId }, { disableIdentityMap: true });
}

const planRunning = (planId: number, execution: PlanExecutionRow, what: string) =>
  new AppError(ErrorCode.PLAN_RUNNING, `Plan ${planId} has an active execution ${execution.id} (${execution.status}): it cannot be ${what} until it ends`, {
    planId: String(planId),
    executionId: String(execution.id),
  });

/**
 * Replaces a plan's definition. Refused (PLAN_RUNNING) while it has an active execution: the plan's
 * row is locked first (its revision moves on), so an edit and a start never interleave.
 */
export async function updatePlan(
  em: EntityManager,
  id: string,
  input: RecoveryPlanInput,
  record: ChangeRecord = systemChange('unattributed'),
): Promise<RecoveryPlanRow> {
  const planId = parseId('id', id);
  const plan = await checkPlanInput(em, input);
  try {
    await em.fork().transactional(async (tx) => {
      const locked = await tx.nativeUpdate(RecoveryPlanRow, { id: planId, deletedAt: null }, { revision: raw('revision + 1') });
      if (locked === 0) throw notFound('Recovery plan', id);
      const active = await activeExecution(tx, planId);
      if (active) throw planRunning(planId, active, 'edited');
      await tx.nativeUpdate(
        RecoveryPlanRow,
        { id: planId },
        {
          name: plan.name,
          nameLock: plan.name,
          description: plan.description,
          maxInFlight: plan.maxInFlight,
          failurePolicy: plan.failurePolicy,
          updatedAt: new Date(),
        },
      );
      await writeWaves(tx, planId, plan.waves);
      await record.inTransaction(tx, id);
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw nameTaken(plan.name);
    throw error;
  }
  return em.fork().findOneOrFail(RecoveryPlanRow, { id: planId }, { disableIdentityMap: true });
}

/** Deletes a plan (its executions stay, for their history). Refused (PLAN_RUNNING) while it has an active execution. */
export async function deletePlan(em: EntityManager, id: string, record: ChangeRecord = systemChange('unattributed')): Promise<RecoveryPlanRow> {
  const planId = parseId('id', id);
  await em.fork().transactional(async (tx) => {
    const locked = await tx.nativeUpdate(RecoveryPlanRow, { id: planId, deletedAt: null }, { revision: raw('revision + 1') });
    if (locked === 0) throw notFound('Recovery plan', id);
    const active = await activeExecution(tx, planId);
    if (active) throw planRunning(planId, active, 'deleted');
    await tx.nativeUpdate(RecoveryPlanRow, { id: planId }, { nameLock: null, deletedAt: new Date(), updatedAt: new Date() });
    await record.inTransaction(tx, id);
  });
  return em.fork().findOneOrFail(RecoveryPlanRow, { id: planId }, { disableIdentityMap: true });
}

const PLAN_CURSOR = 'plan';
const EXECUTION_CURSOR = 'plan-execution';
const isIdTuple = (v: unknown[]): v is [number] => v.length === 1 && Number.isInteger(v[0]);

/** A page of plans, oldest first (keyset on the id). */
export async function listPlans(em: EntityManager, { first, after, maxPageSize }: { first: number; after?: string | null; maxPageSize: number }) {
  const limit = checkFirst(first, maxPageSize);
  const from = after ? decodeCursor<[number]>(after, PLAN_CURSOR, isIdTuple)[0] : 0;
  const rows = await em.find(RecoveryPlanRow, { id: { $gt: from }, deletedAt: null }, { orderBy: { id: 'asc' }, limit: limit + 1 });
  return page(rows, limit, (row) => encodeCursor(PLAN_CURSOR, [row.id]), after);
}

/** One plan (null when unknown or deleted). */
export function findPlan(em: EntityManager, id: string): Promise<RecoveryPlanRow | null> {
  return em.findOne(RecoveryPlanRow, { id: parseId('id', id), deletedAt: null });
}

/** A page of a plan's executions, newest first (keyset on the id). */
export async function listExecutions(
  em: EntityManager,
  planId: number,
  { first, after, maxPageSize }: { first: number; after?: string | null; maxPageSize: number },
) {
  const limit = checkFirst(first, maxPageSize);
  const before = after ? decodeCursor<[number]>(after, EXECUTION_CURSOR, isIdTuple)[0] : null;
  const rows = await em.find(PlanExecutionRow, before === null ? { planId } : { planId, id: { $lt: before } }, {
    orderBy: { id: 'desc' },
    limit: limit + 1,
  });
  return page(rows, limit, (row) => encodeCursor(EXECUTION_CURSOR, [row.id]), after);
}

/** One execution (null when unknown). */
export function findExecution(em: EntityManager, id: string): Promise<PlanExecutionRow | null> {
  return em.findOne(PlanExecutionRow, { id: parseId('id', id) });
}

/** An execution's waves and VMs, in order. */
export async function executionWaves(
  em: EntityManager,
  executionIds: readonly number[],
): Promise<Map<number, { wave: PlanExecutionWaveRow; vms: PlanExecutionVmRow[] }[]>> {
  const waves = await em.find(
    PlanExecutionWaveRow,
    { executionId: { $in: [...executionIds] } },
    { orderBy: { executionId: 'asc', position: 'asc' }, disableIdentityMap: true },
  );
  const vms = await em.find(
    PlanExecutionVmRow,
    { executionId: { $in: [...executionIds] } },
    { orderBy: { executionId: 'asc', wavePosition: 'asc', position: 'asc' }, disableIdentityMap: true },
  );
  const out = new Map<number, { wave: PlanExecutionWaveRow; vms: PlanExecutionVmRow[] }[]>();
  for (const id of executionIds) out.set(id, []);
  for (const wave of waves) out.get(wave.executionId)!.push({ wave, vms: [] });
  for (const vm of vms)
    out
      .get(vm.executionId)
      ?.find((w) => w.wave.position === vm.wavePosition)
      ?.vms.push(vm);
  return out;
}
