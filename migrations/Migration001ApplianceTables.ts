import { Migration } from '@mikro-orm/migrations';

/**
 * The four tables of the replication appliance, as the seed documents them; `vm_disks` WITHOUT the ten VM-spec
 * columns (Migration004VmDiskSpec adds those), so a fresh database and an adopted appliance database converge.
 *
 * Adoption: every statement is `CREATE TABLE IF NOT EXISTS`, so an existing appliance database keeps its tables
 * and rows untouched.
 *
 * `down()` is deliberately a no-op: these tables belong to the appliance (they hold its replication data), and
 * rolling the failover service back must never drop them, whether this migration created them or adopted them.
 */
export class Migration001ApplianceTables extends Migration {
  override name = 'Migration001ApplianceTables';

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS replication_jobs (
      id              VARCHAR(255) PRIMARY KEY,
      source_vm_id    VARCHAR(255) NOT NULL,
      source_vm_name  VARCHAR(255) NOT NULL,
      source_vm_path  VARCHAR(255) NOT NULL,
      vcenter_host    VARCHAR(255) NOT NULL,
      datacenter      VARCHAR(255) NOT NULL,
      status          VARCHAR(50) DEFAULT 'pending',
      created_at      TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      updated_at      TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
      INDEX idx_replication_jobs_vm_id (source_vm_id),
      INDEX idx_replication_jobs_status (status)
    )`);

    this.addSql(`CREATE TABLE IF NOT EXISTS vm_disks (
      id                    BIGINT PRIMARY KEY AUTO_INCREMENT,
      job_id                LONGTEXT NOT NULL,
      disk_id               LONGTEXT NOT NULL,
      vm_dk_path            LONGTEXT NOT NULL,
      size_gb               BIGINT NOT NULL,
      datastore             LONGTEXT,
      unit_number           BIGINT,
      label                 LONGTEXT,
      capacity_bytes        BIGINT,
      provisioning_type     LONGTEXT,
      ossea_volume_id       BIGINT,
      disk_change_id        LONGTEXT,
      sync_status           VARCHAR(191) DEFAULT 'pending',
      sync_progress_percent DOUBLE DEFAULT 0,
      bytes_synced          BIGINT DEFAULT 0,
      created_at            DATETIME(3),
      updated_at            DATETIME(3),
      INDEX idx_vm_disks_job_id (job_id(255)),
      INDEX idx_vm_disks_ossea_volume (ossea_volume_id),
      INDEX idx_vm_disks_sync_status (sync_status)
    )`);

    this.addSql(`CREATE TABLE IF NOT EXISTS ossea_volumes (
      id                INT PRIMARY KEY AUTO_INCREMENT,
      volume_id         VARCHAR(255) UNIQUE NOT NULL,
      volume_name       VARCHAR(255) NOT NULL,
      size_gb           INT NOT NULL,
      ossea_config_id   INT,
      volume_type       VARCHAR(50),
      device_path       VARCHAR(255),
      mount_point       VARCHAR(255),
      status            VARCHAR(50) DEFAULT 'creating',
      created_at        TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      updated_at        TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
      INDEX idx_ossea_volumes_config (ossea_config_id),
      INDEX idx_ossea_volumes_status (status)
    )`);

    this.addSql(`CREATE TABLE IF NOT EXISTS cbt_history (
      id            BIGINT PRIMARY KEY AUTO_INCREMENT,
      job_id        VARCHAR(255) NOT NULL,
      change_id     TEXT,
      sync_success  BOOLEAN DEFAULT FALSE,
      bytes_synced  BIGINT DEFAULT 0,
      created_at    TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      INDEX idx_cbt_history_job_id (job_id),
      INDEX idx_cbt_history_sync_success (sync_success)
    )`);
  }

  /** Irreversible by design: the appliance's tables (and their rows) are never dropped. */
  override down(): void {}
}
