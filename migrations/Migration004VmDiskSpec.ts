import { Migration } from '@mikro-orm/migrations';

/** The ten VM-specification columns of the seed's failover extension of `vm_disks`, in the seed's order. */
const SPEC_COLUMNS = [
  ['cpu_count', 'INT DEFAULT 0'],
  ['memory_mb', 'INT DEFAULT 0'],
  ['os_type', "VARCHAR(255) DEFAULT ''"],
  ['vm_tools_version', "VARCHAR(255) DEFAULT ''"],
  ['network_config', 'TEXT'],
  ['display_name', "VARCHAR(255) DEFAULT ''"],
  ['annotation', 'TEXT'],
  ['power_state', "VARCHAR(50) DEFAULT ''"],
  ['vmware_uuid', "VARCHAR(255) DEFAULT ''"],
  ['bios_setup', 'TEXT'],
] as const;

/**
 * Extends `vm_disks` with the VM-specification columns (the seed's `ALTER TABLE vm_disks ADD COLUMN …`), appended
 * after the appliance's columns, and makes sure the seed's three `vm_disks` indexes exist (an older appliance table
 * may lack them; on a fresh database Migration001 already made them).
 *
 * Adoption: `ADD COLUMN IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS`, so existing columns, indexes and rows stay
 * as they are; existing rows get the columns' defaults.
 *
 * `down()` drops the ten columns only while no row holds anything but their defaults (or NULL); otherwise it
 * refuses (throws) rather than lose VM specifications. It leaves the indexes: they may be the appliance's.
 */
export class Migration004VmDiskSpec extends Migration {
  override name = 'Migration004VmDiskSpec';

  override up(): void {
    this.addSql(`ALTER TABLE vm_disks\n${SPEC_COLUMNS.map(([name, type]) => `  ADD COLUMN IF NOT EXISTS ${name} ${type}`).join(',\n')}`);
    this.addSql('CREATE INDEX IF NOT EXISTS idx_vm_disks_job_id ON vm_disks (job_id(255))');
    this.addSql('CREATE INDEX IF NOT EXISTS idx_vm_disks_ossea_volume ON vm_disks (ossea_volume_id)');
    this.addSql('CREATE INDEX IF NOT EXISTS idx_vm_disks_sync_status ON vm_disks (sync_status)');
  }

  override async down(): Promise<void> {
    const holdsData = [
      'COALESCE(cpu_count, 0) <> 0',
      'COALESCE(memory_mb, 0) <> 0',
      "COALESCE(os_type, '') <> ''",
      "COALESCE(vm_tools_version, '') <> ''",
      'network_config IS NOT NULL',
      "COALESCE(display_name, '') <> ''",
      'annotation IS NOT NULL',
      "COALESCE(power_state, '') <> ''",
      "COALESCE(vmware_uuid, '') <> ''",
      'bios_setup IS NOT NULL',
    ].join(' OR ');
    const [row] = await this.execute(`SELECT COUNT(*) AS n FROM vm_disks WHERE ${holdsData}`);
    const count = Number(row?.n ?? 0);
    if (count > 0) {
      throw new Error(`Migration004VmDiskSpec.down: ${count} vm_disks row(s) hold VM specifications; refusing to drop the columns`);
    }
    this.addSql(`ALTER TABLE vm_disks\n${SPEC_COLUMNS.map(([name]) => `  DROP COLUMN IF EXISTS ${name}`).join(',\n')}`);
  }
}
