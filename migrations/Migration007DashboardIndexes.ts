import { Migration } from '@mikro-orm/migrations';

/**
 * The dashboard's own index of VMs, so that a page costs the same at 100,000 VMs as at 1,000 (DESIGN §8).
 *
 * A VM is a `source_vm_id` of `replication_jobs`, named by its latest job (`created_at DESC, id DESC`). Deriving
 * that per request (`ROW_NUMBER()` over the whole table, for the page and again for `totalCount`) grows with fleet
 * size × replication history. Instead (additive; the seed tables keep their columns and indexes):
 * - `vm_directory`: one row per VM — its id, the latest job's name, id and `created_at` — indexed by
 *   `(vm_name, vm_id)`, the dashboard's order, so a page (first, after a cursor, deep) is one index range;
 * - `vm_directory_totals`: one row, the number of VMs, so the unfiltered `totalCount` is one primary-key read;
 * - triggers on `replication_jobs` keep the directory exact in the writer's own transaction, whoever the writer is
 *   (the appliance writes that table, not this service): no cache, nothing stale. Triggers on `vm_directory` keep
 *   the count. An insert (the common write) only touches the VM's directory row (upsert, then an update when the
 *   new job is the later one); a delete, or an update of `id`, `source_vm_id`, `source_vm_name` or `created_at`,
 *   recomputes the VM's row from its jobs (by `idx_replication_jobs_vm_id`). Other updates (status, progress) cost
 *   one comparison.
 *
 * `TRUNCATE replication_jobs` fires no trigger: after one, re-running this migration's statements (they are all
 * re-runnable; the last ones reconcile the directory and its count with the table) repairs the directory.
 *
 * The embedded SQLite database gets the same tables from the entities and the same triggers from
 * {@link SQLITE_VM_DIRECTORY} (see `prepareSchema`).
 */

/** `recompute(vm)`: the VM's directory row from its jobs (deleted when it has none), MariaDB. */
const mariadbRecompute = (vm: string) => `
    DELETE FROM vm_directory WHERE vm_id = ${vm} AND NOT EXISTS (SELECT 1 FROM replication_jobs r WHERE r.source_vm_id = ${vm});
    INSERT INTO vm_directory (vm_id, vm_name, latest_job_id, latest_created_at)
      SELECT r.source_vm_id, r.source_vm_name, r.id, r.created_at FROM replication_jobs r
      WHERE r.source_vm_id = ${vm} ORDER BY r.created_at DESC, r.id DESC LIMIT 1
      ON DUPLICATE KEY UPDATE vm_name = VALUES(vm_name), latest_job_id = VALUES(latest_job_id), latest_created_at = VALUES(latest_created_at);`;

/** Whether the job NEW sorts after the directory row's latest job (`created_at DESC, id DESC`: NULL is oldest). */
const mariadbNewer = `(NEW.created_at > latest_created_at
        OR (latest_created_at IS NULL AND NEW.created_at IS NOT NULL)
        OR (NEW.created_at <=> latest_created_at AND NEW.id > latest_job_id))`;

/** Reconciles the directory and its count with `replication_jobs` (the backfill; re-runnable). */
const mariadbReconcile = [
  `INSERT INTO vm_directory (vm_id, vm_name, latest_job_id, latest_created_at)
    SELECT source_vm_id, source_vm_name, id, created_at FROM (
      SELECT source_vm_id, source_vm_name, id, created_at,
        ROW_NUMBER() OVER (PARTITION BY source_vm_id ORDER BY created_at DESC, id DESC) AS rn
      FROM replication_jobs) latest WHERE rn = 1
    ON DUPLICATE KEY UPDATE vm_name = VALUES(vm_name), latest_job_id = VALUES(latest_job_id), latest_created_at = VALUES(latest_created_at)`,
  `DELETE FROM vm_directory WHERE NOT EXISTS (SELECT 1 FROM replication_jobs r WHERE r.source_vm_id = vm_directory.vm_id)`,
  `UPDATE vm_directory_totals SET vm_count = (SELECT COUNT(*) FROM vm_directory) WHERE id = 1`,
];

/** The MariaDB statements, in order: tables, triggers, then the reconciliation (so no write in between is lost). */
export const MARIADB_VM_DIRECTORY = [
  `CREATE TABLE IF NOT EXISTS vm_directory (
    vm_id             VARCHAR(255) NOT NULL,
    vm_name           VARCHAR(255) NOT NULL,
    latest_job_id     VARCHAR(255) NOT NULL,
    latest_created_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (vm_id),
    INDEX idx_vm_directory_name (vm_name, vm_id)
  ) ENGINE = InnoDB`,
  `CREATE TABLE IF NOT EXISTS vm_directory_totals (
    id       INT UNSIGNED NOT NULL,
    vm_count BIGINT NOT NULL,
    PRIMARY KEY (id)
  ) ENGINE = InnoDB`,
  `INSERT IGNORE INTO vm_directory_totals (id, vm_count) VALUES (1, 0)`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_count_insert AFTER INSERT ON vm_directory FOR EACH ROW
    UPDATE vm_directory_totals SET vm_count = vm_count + 1 WHERE id = 1`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_count_delete AFTER DELETE ON vm_directory FOR EACH ROW
    UPDATE vm_directory_totals SET vm_count = vm_count - 1 WHERE id = 1`,
  // The upsert's no-op update takes the row's exclusive lock at once (a plain INSERT IGNORE would take a shared
  // one, and two writers upgrading shared locks on one VM's row would deadlock).
  `CREATE TRIGGER IF NOT EXISTS vm_directory_job_insert AFTER INSERT ON replication_jobs FOR EACH ROW
  BEGIN
    INSERT INTO vm_directory (vm_id, vm_name, latest_job_id, latest_created_at)
      VALUES (NEW.source_vm_id, NEW.source_vm_name, NEW.id, NEW.created_at)
      ON DUPLICATE KEY UPDATE vm_id = vm_id;
    UPDATE vm_directory SET vm_name = NEW.source_vm_name, latest_job_id = NEW.id, latest_created_at = NEW.created_at
      WHERE vm_id = NEW.source_vm_id AND ${mariadbNewer};
  END`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_job_delete AFTER DELETE ON replication_jobs FOR EACH ROW
  BEGIN${mariadbRecompute('OLD.source_vm_id')}
  END`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_job_update AFTER UPDATE ON replication_jobs FOR EACH ROW
  BEGIN
    IF NOT (OLD.id <=> NEW.id AND OLD.source_vm_id <=> NEW.source_vm_id AND OLD.source_vm_name <=> NEW.source_vm_name
            AND OLD.created_at <=> NEW.created_at) THEN${mariadbRecompute('OLD.source_vm_id').replace(/\n/g, '\n  ')}
      IF NOT (OLD.source_vm_id <=> NEW.source_vm_id) THEN${mariadbRecompute('NEW.source_vm_id').replace(/\n/g, '\n    ')}
      END IF;
    END IF;
  END`,
  ...mariadbReconcile,
];

/** The triggers names, as `information_schema.TRIGGERS` / `sqlite_master` list them. */
export const VM_DIRECTORY_TRIGGERS = [
  'vm_directory_count_delete',
  'vm_directory_count_insert',
  'vm_directory_job_delete',
  'vm_directory_job_insert',
  'vm_directory_job_update',
];

/**
 * `recompute(vm)` for SQLite: insert when missing, then update from the latest job. No `OR IGNORE` or upsert in a
 * trigger: an outer statement's conflict clause (an upsert into replication_jobs) would override it.
 */
const sqliteRecompute = (vm: string) => `
    DELETE FROM vm_directory WHERE vm_id = ${vm} AND NOT EXISTS (SELECT 1 FROM replication_jobs r WHERE r.source_vm_id = ${vm});
    INSERT INTO vm_directory (vm_id, vm_name, latest_job_id, latest_created_at)
      SELECT r.source_vm_id, r.source_vm_name, r.id, r.created_at FROM replication_jobs r
      WHERE r.source_vm_id = ${vm} AND NOT EXISTS (SELECT 1 FROM vm_directory d WHERE d.vm_id = ${vm})
      ORDER BY r.created_at DESC, r.id DESC LIMIT 1;
    UPDATE vm_directory SET
      vm_name = (SELECT r.source_vm_name FROM replication_jobs r WHERE r.source_vm_id = ${vm} ORDER BY r.created_at DESC, r.id DESC LIMIT 1),
      latest_job_id = (SELECT r.id FROM replication_jobs r WHERE r.source_vm_id = ${vm} ORDER BY r.created_at DESC, r.id DESC LIMIT 1),
      latest_created_at = (SELECT r.created_at FROM replication_jobs r WHERE r.source_vm_id = ${vm} ORDER BY r.created_at DESC, r.id DESC LIMIT 1)
      WHERE vm_id = ${vm};`;

/**
 * The same triggers and reconciliation for the embedded SQLite database (its tables come from the entities).
 * Run in order, after the schema update; re-runnable.
 */
export const SQLITE_VM_DIRECTORY = [
  `INSERT OR IGNORE INTO vm_directory_totals (id, vm_count) VALUES (1, 0)`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_count_insert AFTER INSERT ON vm_directory FOR EACH ROW
  BEGIN UPDATE vm_directory_totals SET vm_count = vm_count + 1 WHERE id = 1; END`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_count_delete AFTER DELETE ON vm_directory FOR EACH ROW
  BEGIN UPDATE vm_directory_totals SET vm_count = vm_count - 1 WHERE id = 1; END`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_job_insert AFTER INSERT ON replication_jobs FOR EACH ROW
  BEGIN
    INSERT INTO vm_directory (vm_id, vm_name, latest_job_id, latest_created_at)
      SELECT NEW.source_vm_id, NEW.source_vm_name, NEW.id, NEW.created_at
      WHERE NOT EXISTS (SELECT 1 FROM vm_directory d WHERE d.vm_id = NEW.source_vm_id);
    UPDATE vm_directory SET vm_name = NEW.source_vm_name, latest_job_id = NEW.id, latest_created_at = NEW.created_at
      WHERE vm_id = NEW.source_vm_id AND (NEW.created_at > latest_created_at
        OR (latest_created_at IS NULL AND NEW.created_at IS NOT NULL)
        OR (NEW.created_at IS latest_created_at AND NEW.id > latest_job_id));
  END`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_job_delete AFTER DELETE ON replication_jobs FOR EACH ROW
  BEGIN${sqliteRecompute('OLD.source_vm_id')}
  END`,
  `CREATE TRIGGER IF NOT EXISTS vm_directory_job_update AFTER UPDATE OF id, source_vm_id, source_vm_name, created_at ON replication_jobs FOR EACH ROW
  BEGIN${sqliteRecompute('OLD.source_vm_id')}${sqliteRecompute('NEW.source_vm_id')}
  END`,
  `INSERT INTO vm_directory (vm_id, vm_name, latest_job_id, latest_created_at)
    SELECT source_vm_id, source_vm_name, id, created_at FROM (
      SELECT source_vm_id, source_vm_name, id, created_at,
        ROW_NUMBER() OVER (PARTITION BY source_vm_id ORDER BY created_at DESC, id DESC) AS rn
      FROM replication_jobs) latest WHERE rn = 1
    ON CONFLICT (vm_id) DO UPDATE SET vm_name = excluded.vm_name, latest_job_id = excluded.latest_job_id,
      latest_created_at = excluded.latest_created_at`,
  `DELETE FROM vm_directory WHERE NOT EXISTS (SELECT 1 FROM replication_jobs r WHERE r.source_vm_id = vm_directory.vm_id)`,
  `UPDATE vm_directory_totals SET vm_count = (SELECT COUNT(*) FROM vm_directory) WHERE id = 1`,
];

export class Migration007DashboardIndexes extends Migration {
  override name = 'Migration007DashboardIndexes';

  override up(): void {
    for (const sql of MARIADB_VM_DIRECTORY) this.addSql(sql);
  }

  /** The directory is derived data (rebuilt by `up()`): dropping it loses nothing. */
  override down(): void {
    for (const trigger of VM_DIRECTORY_TRIGGERS) this.addSql(`DROP TRIGGER IF EXISTS ${trigger}`);
    this.addSql('DROP TABLE IF EXISTS vm_directory_totals');
    this.addSql('DROP TABLE IF EXISTS vm_directory');
  }
}
