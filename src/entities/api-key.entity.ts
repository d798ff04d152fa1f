import type { Opt } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/**
 * An API key (table `api_keys`, added by Migration008). Only the SHA-256 of the whole key is kept;
 * `keyPrefix` is the key's public part, what a presented key is looked up by. A revoked key stays,
 * with `revokedAt`, so the audit log's names keep meaning something.
 */
@Entity({ tableName: 'api_keys' })
@Unique({ name: 'idx_api_keys_name', properties: ['name'] })
@Unique({ name: 'idx_api_keys_prefix', properties: ['keyPrefix'] })
export class ApiKey {
  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number & Opt;

  @Property({ type: 'string', length: 64 })
  name!: string;

  @Property({ type: 'string', length: 16 })
  role!: string;

  @Property({ type: 'string', length: 16 })
  keyPrefix!: string;

  @Property({ type: 'string', columnType: 'char(64)', length: 64 })
  keyHash!: string;

  /** Who created it (a key name, or `cli`). */
  @Property({ type: 'string', length: 128, nullable: true })
  createdBy?: string | null;

  @Property({ type: 'datetime', length: 3 })
  createdAt!: Date;

  @Property({ type: 'datetime', length: 3, nullable: true })
  lastUsedAt?: Date | null;

  @Property({ type: 'datetime', length: 3, nullable: true })
  revokedAt?: Date | null;
}
