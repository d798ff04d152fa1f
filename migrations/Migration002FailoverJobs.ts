import { Migration } from '@mikro-orm/migrations';

/**
 * `failover_jobs`, exactly as the seed defines it. `IF NOT EXISTS`: an appliance database that already has the
 * table (the original appliance's own failover extension) keeps it and its rows.
 *
 * `down()` drops the table only while it is empty; with rows in it, it refuses (throws) rather than lose them.
 */
export class Migration002FailoverJobs extends Migration {
  override name = 'Migration002FailoverJobs';

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS failover_jobs (
      id                 INT PRIMARY KEY AUTO_INCREMENT,
      job_id             VARCHAR(255) UNIQUE NOT NULL,
      vm_id              VARCHAR(255) NOT NULL,
      replication_job_id VARCHAR(255),
      job_type           VARCHAR(50) NOT NULL,
      status             VARCHAR(50) DEFAULT 'pending',
      source_vm_name     VARCHAR(255) NOT NULL,
      source_vm_spec     TEXT,
      destination_vm_id  VARCHAR(255),
      ossea_snapshot_id  VARCHAR(255),
      network_mappings   TEXT,
      error_message      TEXT,
      created_at         TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      updated_at         TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
      started_at         TIMESTAMP NULL,
      completed_at       TIMESTAMP NULL,
      INDEX idx_failover_jobs_vm_id (vm_id),
      INDEX idx_failover_jobs_replication (replication_job_id),
      INDEX idx_failover_jobs_status (status),
      INDEX idx_failover_jobs_type (job_type),
      INDEX idx_failover_jobs_created (created_at)
    )`);
  }

  override async down(): Promise<void> {
    const [row] = await this.execute('SELECT COUNT(*) AS n FROM failover_jobs');
    const count = Number(row?.n ?? 0);
    if (count > 0) {
      throw new Error(`Migration002FailoverJobs.down: failover_jobs holds ${count} row(s); refusing to drop it`);
    }
    this.addSql('DROP TABLE failover_jobs');
  }
}
