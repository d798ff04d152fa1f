import { Migration } from '@mikro-orm/migrations';

/**
 * The one change to the seed: `network_mappings` is unique on `(vm_id, source_network_name, is_test_network)`,
 * so a VM can map the same source network once for live failover AND once for test failover (the seed's own
 * example rows do exactly that and violate its 2-column index). The index keeps its seed name,
 * `idx_network_mappings_unique`.
 *
 * One `ALTER TABLE` swaps the index atomically. It never fails on data (rows unique on two columns are unique on
 * three), and re-running it is harmless (`DROP INDEX IF EXISTS`, then add).
 *
 * `down()` restores the 2-column index only while no (vm_id, source_network_name) has both a live and a test
 * mapping; otherwise it refuses (throws) rather than delete mappings.
 */
export class Migration005NetworkMappingsUniquePerKind extends Migration {
  override name = 'Migration005NetworkMappingsUniquePerKind';

  override up(): void {
    this.addSql(`ALTER TABLE network_mappings
      DROP INDEX IF EXISTS idx_network_mappings_unique,
      ADD UNIQUE INDEX idx_network_mappings_unique (vm_id, source_network_name, is_test_network)`);
  }

  override async down(): Promise<void> {
    const [row] = await this.execute(`SELECT COUNT(*) AS n FROM (
        SELECT vm_id, source_network_name FROM network_mappings
        GROUP BY vm_id, source_network_name HAVING COUNT(*) > 1
      ) AS both_kinds`);
    const count = Number(row?.n ?? 0);
    if (count > 0) {
      throw new Error(
        `Migration005NetworkMappingsUniquePerKind.down: ${count} source network(s) are mapped more than once per VM; ` +
          'refusing to restore the 2-column unique index',
      );
    }
    this.addSql(`ALTER TABLE network_mappings
      DROP INDEX IF EXISTS idx_network_mappings_unique,
      ADD UNIQUE INDEX idx_network_mappings_unique (vm_id, source_network_name)`);
  }
}
