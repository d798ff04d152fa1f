import { Migration } from '@mikro-orm/migrations';

/**
 * `network_mappings`, exactly as the seed defines it, including the seed's 2-column unique index
 * `idx_network_mappings_unique (vm_id, source_network_name)` (Migration005 widens it). `IF NOT EXISTS`: an
 * appliance database that already has the table keeps it and its rows.
 *
 * `down()` drops the table only while it is empty; with rows in it, it refuses (throws) rather than lose them.
 */
export class Migration003NetworkMappings extends Migration {
  override name = 'Migration003NetworkMappings';

  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS network_mappings (
      id                       INT PRIMARY KEY AUTO_INCREMENT,
      vm_id                    VARCHAR(255) NOT NULL,
      source_network_name      VARCHAR(255) NOT NULL,
      destination_network_id   VARCHAR(255) NOT NULL,
      destination_network_name VARCHAR(255) NOT NULL,
      is_test_network          BOOLEAN DEFAULT FALSE,
      created_at               TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      updated_at               TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
      UNIQUE INDEX idx_network_mappings_unique (vm_id, source_network_name),
      INDEX idx_network_mappings_vm_id (vm_id),
      INDEX idx_network_mappings_destination (destination_network_id),
      INDEX idx_network_mappings_test (is_test_network)
    )`);
  }

  override async down(): Promise<void> {
    const [row] = await this.execute('SELECT COUNT(*) AS n FROM network_mappings');
    const count = Number(row?.n ?? 0);
    if (count > 0) {
      throw new Error(`Migration003NetworkMappings.down: network_mappings holds ${count} row(s); refusing to drop it`);
    }
    this.addSql('DROP TABLE network_mappings');
  }
}
