import { BigIntType, type Opt } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * One mutation as the audit log records it (table `audit_log`, added by Migration008): append-only,
 * written in the transaction of the change it records (a refusal, which changes nothing, on its own).
 */
@Entity({ tableName: 'audit_log' })
@Index({ name: 'idx_audit_log_actor', properties: ['actor', 'id'] })
@Index({ name: 'idx_audit_log_operation', properties: ['operation', 'id'] })
@Index({ name: 'idx_audit_log_target', properties: ['target', 'id'] })
@Index({ name: 'idx_audit_log_occurred', properties: ['occurredAt'] })
export class AuditEntry {
  @PrimaryKey({ type: new BigIntType('number'), columnType: 'bigint', autoincrement: true })
  id!: number & Opt;

  @Property({ type: 'datetime', length: 3 })
  occurredAt!: Date;

  /** The key's name (`token:<fingerprint>` for an API_TOKENS token, `anonymous` without authentication). */
  @Property({ type: 'string', length: 128 })
  actor!: string;

  @Property({ type: 'string', length: 16, nullable: true })
  actorRole?: string | null;

  /** The client's address. */
  @Property({ type: 'string', length: 64, nullable: true })
  source?: string | null;

  /** `http` or `ws`. */
  @Property({ type: 'string', length: 8 })
  transport!: string;

  /** The mutation's field name. */
  @Property({ type: 'string', length: 64 })
  operation!: string;

  /** What it was about: a VM id, a job id, a key name. */
  @Property({ type: 'string', length: 255, nullable: true })
  target?: string | null;

  /** Its arguments as JSON, bounded (secrets never recorded). */
  @Property({ type: 'text', nullable: true })
  arguments?: string | null;

  /** `ok` or `refused`. */
  @Property({ type: 'string', length: 16 })
  outcome!: string;

  @Property({ type: 'string', length: 64, nullable: true })
  errorCode?: string | null;

  @Property({ type: 'text', nullable: true })
  message?: string | null;
}
