import { Migration } from '@mikro-orm/migrations';

/**
 * The failover engine's own tables (additive: the seed tables are untouched):
 * - `failover_executions`: one row per job run by this service, the engine's durable cursor (flow, step, phase),
 *   its lease (owner + expiry, epoch ms), the automatic cleanup time, and `vm_lock`, unique, which holds the VM id
 *   while the job holds the VM, so that of many concurrent starts for one VM exactly one creates a job;
 * - `failover_ledger`: every cloud call of a job, written before the call (intent) and after it (done);
 * - `failover_job_events`: every status transition and progress update, with a dense, monotonic `sequence`;
 * - `failover_sequences`: the counter `sequence` is taken from, under its row lock (commit order = sequence order).
 *
 * Every statement is re-runnable. `down()` drops the tables only while executions, ledger and events are all empty.
 */
export class Migration006FailoverEngine extends Migration {
  override name = 'Migration006FailoverEngine';

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS failover_executions (
      job_id                     VARCHAR(255) NOT NULL,
      vm_id                      VARCHAR(255) NOT NULL,
      vm_lock                    VARCHAR(255) NULL,
      flow                       VARCHAR(32) NOT NULL,
      phase                      VARCHAR(16) NOT NULL,
      step                       INT NOT NULL DEFAULT 0,
      failed_step                VARCHAR(64) NULL,
      failure                    TEXT NULL,
      progress_percent           INT NOT NULL DEFAULT 0,
      lease_owner                VARCHAR(128) NULL,
      lease_expires_at           BIGINT NULL,
      auto_cleanup_at            BIGINT NULL,
      auto_cleanup_after_minutes INT NULL,
      created_at                 DATETIME(3) NOT NULL,
      updated_at                 DATETIME(3) NOT NULL,
      PRIMARY KEY (job_id),
      UNIQUE INDEX idx_failover_executions_vm_lock (vm_lock),
      INDEX idx_failover_executions_vm_id (vm_id),
      INDEX idx_failover_executions_phase (phase, lease_expires_at),
      INDEX idx_failover_executions_auto_cleanup (auto_cleanup_at)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS failover_ledger (
      id            INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      job_id        VARCHAR(255) NOT NULL,
      flow          VARCHAR(32) NOT NULL,
      step          VARCHAR(64) NOT NULL,
      action_key    VARCHAR(255) NOT NULL,
      action        VARCHAR(64) NOT NULL,
      resource_type VARCHAR(32) NOT NULL,
      resource_id   VARCHAR(255) NULL,
      resource_name VARCHAR(255) NULL,
      state         VARCHAR(16) NOT NULL,
      detail        TEXT NULL,
      created_at    DATETIME(3) NOT NULL,
      updated_at    DATETIME(3) NOT NULL,
      UNIQUE INDEX idx_failover_ledger_action (job_id, action_key),
      INDEX idx_failover_ledger_resource (resource_id)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS failover_job_events (
      sequence         BIGINT UNSIGNED NOT NULL,
      job_id           VARCHAR(255) NOT NULL,
      vm_id            VARCHAR(255) NOT NULL,
      job_type         VARCHAR(50) NOT NULL,
      status           VARCHAR(50) NOT NULL,
      previous_status  VARCHAR(50) NULL,
      progress_percent INT NOT NULL,
      step             VARCHAR(64) NULL,
      message          TEXT NULL,
      occurred_at      DATETIME(3) NOT NULL,
      PRIMARY KEY (sequence),
      INDEX idx_failover_job_events_job (job_id, sequence),
      INDEX idx_failover_job_events_vm (vm_id, sequence)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS failover_sequences (
      name  VARCHAR(64) NOT NULL,
      value BIGINT NOT NULL,
      PRIMARY KEY (name)
    ) ENGINE = InnoDB`);
    this.addSql(`INSERT IGNORE INTO failover_sequences (name, value) VALUES ('failover_job_events', 0)`);
  }

  override async down(): Promise<void> {
    // Jobs, their ledger and their events are history an operator may need: never dropped with rows in them.
    for (const table of ['failover_executions', 'failover_ledger', 'failover_job_events']) {
      const [row] = await this.execute(`SELECT COUNT(*) AS n FROM ${table}`);
      const count = Number(row?.n ?? 0);
      if (count > 0) {
        throw new Error(`Migration006FailoverEngine.down: ${table} holds ${count} row(s); refusing to drop the engine's tables`);
      }
    }
    this.addSql('DROP TABLE IF EXISTS failover_job_events');
    this.addSql('DROP TABLE IF EXISTS failover_ledger');
    this.addSql('DROP TABLE IF EXISTS failover_sequences');
    this.addSql('DROP TABLE IF EXISTS failover_executions');
  }
}
