import type { Opt } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { Field, GraphQLISODateTime, Int, ObjectType } from 'type-graphql';

/** Where a ledger entry's cloud call stands. */
export enum LedgerState {
  /** Written before the call: it may or may not have happened. */
  INTENT = 'intent',
  /** The call succeeded; `resourceId` names what it made or moved. */
  DONE = 'done',
  /** Compensation is undoing it (written before the undo's calls; undoing again is safe). */
  UNDOING = 'undoing',
  /** Its effect was undone (compensation), or it provably never happened. */
  UNDONE = 'undone',
}

/**
 * One cloud call of a job (table `failover_ledger`, added by Migration006), written BEFORE the call
 * (intent, with the name that finds its resource again and the data to undo it) and after it (done,
 * with the resource id). A crash at any instant leaves enough here to resume or to compensate.
 */
@ObjectType('FailoverLedgerEntry', {
  simpleResolvers: true,
  description: 'One cloud call of a job: what it made or moved, and whether that is done, undone, or only intended (it may have happened).',
})
@Entity({ tableName: 'failover_ledger' })
@Unique({ name: 'idx_failover_ledger_action', properties: ['jobId', 'actionKey'] })
@Index({ name: 'idx_failover_ledger_resource', properties: ['resourceId'] })
export class FailoverLedgerEntry {
  @Field(() => Int)
  @PrimaryKey({ type: 'integer', unsigned: false })
  id!: number;

  @Property({ type: 'string', length: 255 })
  jobId!: string;

  /** The flow and step that made the call. */
  @Field(() => String)
  @Property({ type: 'string', length: 32 })
  flow!: string;

  @Field(() => String)
  @Property({ type: 'string', length: 64 })
  step!: string;

  /** Unique per job: what the call is about (`snapshot:<volume id>`). */
  @Property({ type: 'string', length: 255 })
  actionKey!: string;

  /** The kind of call (`create_snapshot`, `deploy_vm`, `attach_volume` …). */
  @Field(() => String, { description: '`create_snapshot`, `deploy_vm`, `detach_volume`, `attach_volume`, `start_vm` … and the unwind calls.' })
  @Property({ type: 'string', length: 64 })
  action!: string;

  /** `vm`, `volume` or `snapshot`. */
  @Field(() => String, { description: '`vm`, `volume` or `snapshot`.' })
  @Property({ type: 'string', length: 32 })
  resourceType!: string;

  @Field(() => String, { nullable: true, description: 'The CloudStack id.' })
  @Property({ type: 'string', length: 255, nullable: true })
  resourceId?: string | null;

  /** The name that finds a created resource again after a crash. */
  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 255, nullable: true })
  resourceName?: string | null;

  @Field(() => String, { description: '`intent`, `done`, `undoing` or `undone`.' })
  @Property({ type: 'string', length: 16 })
  state!: LedgerState;

  /** JSON: what the call was given, and what undoing it needs (e.g. the device id a volume had). */
  @Property({ type: 'text', nullable: true })
  detail?: string | null;

  @Field(() => GraphQLISODateTime)
  @Property({ type: 'datetime', length: 3, onCreate: () => new Date() })
  createdAt: Date & Opt = new Date();

  @Field(() => GraphQLISODateTime)
  @Property({ type: 'datetime', length: 3, onCreate: () => new Date(), onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();
}
