import { Migration } from '@mikro-orm/migrations';

/**
 * Recovery plans and their executions (additive: the seed tables are untouched):
 * - `recovery_plans`: a named plan (`name_lock` holds the name while the plan exists — unique — and is
 *   NULL once it is deleted, so executions keep their plan and a new plan may take the name), its
 *   max-in-flight, failure policy and a `revision` every change and every start moves on;
 * - `recovery_plan_waves`, `recovery_plan_vms`: the waves in order and the VMs of each (a VM in at most one
 *   wave of a plan: the primary key);
 * - `plan_executions`: one run of a plan — its status, cursor (phase, wave), lease (owner + expiry, epoch ms),
 *   `active_lock` (the plan's id while the execution is active: unique, so a plan has one active execution);
 * - `plan_execution_waves`, `plan_execution_vms`: the waves and VMs the execution runs (a copy of the plan at
 *   its start) with each VM's state, its failover job, and its cleanup/revert;
 * - `plan_execution_events`: every change of an execution, `sequence` dense across executions (taken under
 *   the `failover_sequences` row `plan_execution_events`), `execution_sequence` dense within one;
 * - `idempotency_keys`: key + caller → the request's hash and what it created, for 24 hours;
 * - on `failover_executions` (the engine's own table), `plan_execution_id`: the execution that started the job.
 *
 * Every statement is re-runnable. `down()` refuses while plans or executions exist.
 */
export class Migration009RecoveryPlans extends Migration {
  override name = 'Migration009RecoveryPlans';

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS recovery_plans (
      id             INT UNSIGNED NOT NULL AUTO_INCREMENT,
      name           VARCHAR(100) NOT NULL,
      name_lock      VARCHAR(100) NULL,
      description    VARCHAR(1000) NULL,
      max_in_flight  INT NOT NULL,
      failure_policy VARCHAR(16) NOT NULL,
      revision       INT NOT NULL,
      created_by     VARCHAR(128) NULL,
      created_at     DATETIME(3) NOT NULL,
      updated_at     DATETIME(3) NOT NULL,
      deleted_at     DATETIME(3) NULL,
      PRIMARY KEY (id),
      UNIQUE INDEX idx_recovery_plans_name_lock (name_lock)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS recovery_plan_waves (
      plan_id  INT UNSIGNED NOT NULL,
      position INT UNSIGNED NOT NULL,
      PRIMARY KEY (plan_id, position)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS recovery_plan_vms (
      plan_id       INT UNSIGNED NOT NULL,
      vm_id         VARCHAR(255) NOT NULL,
      wave_position INT NOT NULL,
      position      INT NOT NULL,
      PRIMARY KEY (plan_id, vm_id),
      INDEX idx_recovery_plan_vms_wave (plan_id, wave_position, position),
      INDEX idx_recovery_plan_vms_vm (vm_id)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS plan_executions (
      id                  INT UNSIGNED NOT NULL AUTO_INCREMENT,
      plan_id             INT NOT NULL,
      plan_name           VARCHAR(100) NOT NULL,
      type                VARCHAR(8) NOT NULL,
      status              VARCHAR(32) NOT NULL,
      run_status          VARCHAR(32) NULL,
      phase               VARCHAR(16) NOT NULL,
      wave                INT NOT NULL,
      wave_count          INT NOT NULL,
      max_in_flight       INT NOT NULL,
      failure_policy      VARCHAR(16) NOT NULL,
      active_lock         INT NULL,
      cancel_requested_at DATETIME(3) NULL,
      lease_owner         VARCHAR(128) NULL,
      lease_expires_at    BIGINT NULL,
      requested_by        VARCHAR(128) NULL,
      flow_requested_by   VARCHAR(128) NULL,
      error_message       TEXT NULL,
      started_at          DATETIME(3) NULL,
      completed_at        DATETIME(3) NULL,
      unwind_started_at   DATETIME(3) NULL,
      unwind_completed_at DATETIME(3) NULL,
      created_at          DATETIME(3) NOT NULL,
      updated_at          DATETIME(3) NOT NULL,
      PRIMARY KEY (id),
      UNIQUE INDEX idx_plan_executions_active (active_lock),
      INDEX idx_plan_executions_plan (plan_id, id),
      INDEX idx_plan_executions_phase (phase, lease_expires_at)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS plan_execution_waves (
      execution_id        INT UNSIGNED NOT NULL,
      position            INT UNSIGNED NOT NULL,
      started_at          DATETIME(3) NULL,
      completed_at        DATETIME(3) NULL,
      unwind_started_at   DATETIME(3) NULL,
      unwind_completed_at DATETIME(3) NULL,
      PRIMARY KEY (execution_id, position)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS plan_execution_vms (
      execution_id  INT UNSIGNED NOT NULL,
      vm_id         VARCHAR(255) NOT NULL,
      vm_name       VARCHAR(255) NULL,
      wave_position INT NOT NULL,
      position      INT NOT NULL,
      state         VARCHAR(16) NOT NULL,
      job_id        VARCHAR(255) NULL,
      unwind_state  VARCHAR(16) NULL,
      error_message TEXT NULL,
      launched_at   DATETIME(3) NULL,
      ended_at      DATETIME(3) NULL,
      updated_at    DATETIME(3) NOT NULL,
      PRIMARY KEY (execution_id, vm_id),
      INDEX idx_plan_execution_vms_wave (execution_id, wave_position, position),
      INDEX idx_plan_execution_vms_vm (vm_id),
      INDEX idx_plan_execution_vms_job (job_id)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS plan_execution_events (
      sequence           BIGINT UNSIGNED NOT NULL,
      execution_id       INT NOT NULL,
      plan_id            INT NOT NULL,
      execution_sequence INT NOT NULL,
      kind               VARCHAR(32) NOT NULL,
      status             VARCHAR(32) NOT NULL,
      previous_status    VARCHAR(32) NULL,
      wave               INT NULL,
      vm_id              VARCHAR(255) NULL,
      job_id             VARCHAR(255) NULL,
      progress_percent   INT NOT NULL,
      message            TEXT NULL,
      requested_by       VARCHAR(128) NULL,
      occurred_at        DATETIME(3) NOT NULL,
      PRIMARY KEY (sequence),
      UNIQUE INDEX idx_plan_execution_events_execution (execution_id, execution_sequence),
      INDEX idx_plan_execution_events_plan (plan_id, sequence)
    ) ENGINE = InnoDB`);
    this.addSql(`CREATE TABLE IF NOT EXISTS idempotency_keys (
      caller          VARCHAR(128) NOT NULL,
      idempotency_key VARCHAR(100) NOT NULL,
      operation       VARCHAR(64) NOT NULL,
      request_hash    VARCHAR(64) NOT NULL,
      result_id       VARCHAR(255) NOT NULL,
      created_at      DATETIME(3) NOT NULL,
      expires_at      BIGINT NOT NULL,
      PRIMARY KEY (caller, idempotency_key),
      INDEX idx_idempotency_keys_expires (expires_at)
    ) ENGINE = InnoDB`);
    this.addSql('ALTER TABLE failover_executions ADD COLUMN IF NOT EXISTS plan_execution_id INT NULL');
    this.addSql('CREATE INDEX IF NOT EXISTS idx_failover_executions_plan_execution ON failover_executions (plan_execution_id)');
    this.addSql(`INSERT IGNORE INTO failover_sequences (name, value) VALUES ('plan_execution_events', 0)`);
  }

  override async down(): Promise<void> {
    for (const table of ['recovery_plans', 'plan_executions']) {
      const [row] = await this.execute(`SELECT COUNT(*) AS n FROM ${table}`);
      const count = Number(row?.n ?? 0);
      if (count > 0) throw new Error(`Migration009RecoveryPlans.down: ${table} holds ${count} row(s); refusing to drop the plans' tables`);
    }
    this.addSql(`DELETE FROM failover_sequences WHERE name = 'plan_execution_events'`);
    this.addSql('DROP INDEX IF EXISTS idx_failover_executions_plan_execution ON failover_executions');
    this.addSql('ALTER TABLE failover_executions DROP COLUMN IF EXISTS plan_execution_id');
    for (const table of [
      'idempotency_keys',
      'plan_execution_events',
      'plan_execution_vms',
      'plan_execution_waves',
      'plan_executions',
      'recovery_plan_vms',
      'recovery_plan_waves',
      'recovery_plans',
    ]) {
      this.addSql(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
