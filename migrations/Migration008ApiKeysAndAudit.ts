import { Migration } from '@mikro-orm/migrations';

/**
 * Access control and its record (additive: the seed tables are untouched):
 * - `api_keys`: the keys callers present, stored only as the SHA-256 of the whole key (a key is 32 random bytes,
 *   so a fast hash suffices: there is nothing to brute-force), looked up by `key_prefix` (the public part of the
 *   key), with a role and, once revoked, when;
 * - `audit_log`: append-only, one row per mutation — who (key name and role), when, from where, what (operation,
 *   target, its bounded arguments) and the outcome — written in the transaction of the change it records;
 * - on `failover_executions`, `requested_by` (who started the job) and `flow_requested_by` (who asked for its
 *   current flow: the start, then a cleanup or revert); on `failover_job_events`, `requested_by` (who asked for
 *   the flow the event belongs to).
 *
 * Every statement is re-runnable. `down()` refuses while the audit log holds rows.
 */
export class Migration008ApiKeysAndAudit extends Migration {
  override name = 'Migration008ApiKeysAndAudit';

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS api_keys (
      id          INT UNSIGNED NOT NULL AUTO_INCREMENT,
      name        VARCHAR(64) NOT NULL,
      role        VARCHAR(16) NOT NULL,
      key_prefix  VARCHAR(16) NOT NULL,
      key_hash    CHAR(64) NOT NULL,
      created_by  VARCHAR(128) NULL,
      created_at  DATETIME(3) NOT NULL,
      last_used_at DATETIME(3) NULL,
      revoked_at  DATETIME(3) NULL,
      PRIMARY KEY (id),
      UNIQUE INDEX idx_api_keys_name (name),
      UNIQUE INDEX idx_api_keys_prefix (key_prefix)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS audit_log (
      id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
      occurred_at  DATETIME(3) NOT NULL,
      actor        VARCHAR(128) NOT NULL,
      actor_role   VARCHAR(16) NULL,
      source       VARCHAR(64) NULL,
      transport    VARCHAR(8) NOT NULL,
      operation    VARCHAR(64) NOT NULL,
      target       VARCHAR(255) NULL,
      arguments    TEXT NULL,
      outcome      VARCHAR(16) NOT NULL,
      error_code   VARCHAR(64) NULL,
      message      TEXT NULL,
      PRIMARY KEY (id),
      INDEX idx_audit_log_actor (actor, id),
      INDEX idx_audit_log_operation (operation, id),
      INDEX idx_audit_log_target (target, id),
      INDEX idx_audit_log_occurred (occurred_at)
    ) ENGINE = InnoDB`);
    this.addSql('ALTER TABLE failover_executions ADD COLUMN IF NOT EXISTS requested_by VARCHAR(128) NULL');
    this.addSql('ALTER TABLE failover_executions ADD COLUMN IF NOT EXISTS flow_requested_by VARCHAR(128) NULL');
    this.addSql('ALTER TABLE failover_job_events ADD COLUMN IF NOT EXISTS requested_by VARCHAR(128) NULL');
  }

  override async down(): Promise<void> {
    const [row] = await this.execute('SELECT COUNT(*) AS n FROM audit_log');
    const count = Number(row?.n ?? 0);
    if (count > 0) throw new Error(`Migration008ApiKeysAndAudit.down: audit_log holds ${count} row(s); refusing to drop the audit log`);
    this.addSql('ALTER TABLE failover_job_events DROP COLUMN IF EXISTS requested_by');
    this.addSql('ALTER TABLE failover_executions DROP COLUMN IF EXISTS flow_requested_by');
    this.addSql('ALTER TABLE failover_executions DROP COLUMN IF EXISTS requested_by');
    this.addSql('DROP TABLE IF EXISTS audit_log');
    this.addSql('DROP TABLE IF EXISTS api_keys');
  }
}
