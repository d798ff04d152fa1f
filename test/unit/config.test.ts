import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const error = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('defaults to the embedded service: SQLite under ./data, simulator, demo data, 127.0.0.1:4000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 4000,
      logLevel: 'info',
      demoData: true,
      database: { kind: 'sqlite' },
      cloud: { kind: 'simulator' },
    });
    expect(config.database.kind === 'sqlite' && config.database.file).toMatch(/data\/failover\.sqlite$/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the engine settings, with defaults, and names a bad one', () => {
    expect(loadConfig({})).toMatchObject({
      engine: { leaseMs: 30_000, scanIntervalMs: 5_000, concurrency: 8, eventPollIntervalMs: 1_000 },
      cloudPollIntervalMs: 1_000,
    });
    const tuned = loadConfig({
      ENGINE_LEASE_MS: '1500',
      ENGINE_SCAN_INTERVAL_MS: '100',
      ENGINE_CONCURRENCY: '2',
      EVENTS_POLL_INTERVAL_MS: '50',
      CLOUDSTACK_POLL_INTERVAL_MS: '20',
    });
    expect(tuned).toMatchObject({ engine: { leaseMs: 1_500, scanIntervalMs: 100, concurrency: 2, eventPollIntervalMs: 50 }, cloudPollIntervalMs: 20 });
    expect(Object.isFrozen(tuned.engine)).toBe(true);
    expect(error({ ENGINE_LEASE_MS: '100' }).message).toBe('ENGINE_LEASE_MS: must be an integer between 500 and 3600000 (got "100")');
    expect(error({ ENGINE_CONCURRENCY: '0' }).variable).toBe('ENGINE_CONCURRENCY');
    expect(error({ CLOUDSTACK_POLL_INTERVAL_MS: 'soon' }).variable).toBe('CLOUDSTACK_POLL_INTERVAL_MS');
  });

  it('reads EVENTS_REDIS_URL (none: polling alone), with the password redacted for display, and refuses what is not a Redis URL', () => {
    expect(loadConfig({}).engine.eventRedis).toBeUndefined();
    expect(loadConfig({}).engine.eventRedisPollIntervalMs).toBe(10_000);
    const config = loadConfig({ EVENTS_REDIS_URL: 'redis://:s3cret@cache.internal:6380/2', EVENTS_REDIS_POLL_INTERVAL_MS: '30000' });
    expect(config.engine.eventRedis).toEqual({ url: 'redis://:s3cret@cache.internal:6380/2', redactedUrl: 'redis://:***@cache.internal:6380/2' });
    expect(config.engine.eventRedisPollIntervalMs).toBe(30_000);
    expect(loadConfig({ EVENTS_REDIS_URL: 'rediss://user:pw@cache.internal' }).engine.eventRedis?.redactedUrl).toBe('rediss://user:***@cache.internal');
    expect(error({ EVENTS_REDIS_URL: 'cache.internal:6379' }).message).toMatch(/^EVENTS_REDIS_URL: scheme "cache.internal:" is not supported/);
    expect(error({ EVENTS_REDIS_URL: 'not a url' }).message).toMatch(/^EVENTS_REDIS_URL: is not a URL/);
    expect(error({ EVENTS_REDIS_URL: 'http://cache.internal' }).message).toContain('use redis:// or rediss://');
    expect(error({ EVENTS_REDIS_URL: 'redis://cache.internal/keys' }).message).toContain('database number only');
    expect(error({ EVENTS_REDIS_POLL_INTERVAL_MS: '10' }).variable).toBe('EVENTS_REDIS_POLL_INTERVAL_MS');
  });

  it('reads MariaDB from DATABASE_URL, with no demo data unless asked and the password redacted for display', () => {
    const config = loadConfig({ DATABASE_URL: 'mariadb://app:s3cret@db.internal:3306/migratekit_oma', CLOUDSTACK_SIMULATOR: 'true' });
    expect(config.database).toEqual({
      kind: 'mariadb',
      url: 'mariadb://app:s3cret@db.internal:3306/migratekit_oma',
      redactedUrl: 'mariadb://app:***@db.internal:3306/migratekit_oma',
    });
    expect(config.demoData).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'mysql://a@b/c', DEMO_DATA: 'yes', CLOUDSTACK_SIMULATOR: '1' }).demoData).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'sqlite:/tmp/x.db' }).database).toEqual({ kind: 'sqlite', file: '/tmp/x.db' });
  });

  /** Every CLOUDSTACK_ variable of a real cloud. */
  const cloud = {
    CLOUDSTACK_URL: 'https://cloud.example.com/',
    CLOUDSTACK_API_KEY: 'k',
    CLOUDSTACK_SECRET_KEY: 's',
    CLOUDSTACK_ZONE_ID: 'z',
    CLOUDSTACK_TEMPLATE_ID: 't',
    CLOUDSTACK_SERVICE_OFFERING_ID: 'o',
    CLOUDSTACK_APPLIANCE_VM_ID: 'a',
  };

  it('takes a real CloudStack only when every CLOUDSTACK_ variable is given', () => {
    expect(loadConfig(cloud).cloud).toMatchObject({ kind: 'remote', url: 'https://cloud.example.com', zoneId: 'z' });
    const { CLOUDSTACK_TEMPLATE_ID: _, ...partial } = cloud;
    expect(error(partial).variable).toBe('CLOUDSTACK_TEMPLATE_ID');
    expect(error({ ...cloud, CLOUDSTACK_URL: 'cloud.example.com' }).message).toBe('CLOUDSTACK_URL: must be an http(s) URL, e.g. https://cloud.example.com');
  });

  it('takes several appliance VMs (one KVM VM holds at most 32 data disks) and a project', () => {
    expect(loadConfig(cloud).cloud).toMatchObject({ applianceVmIds: ['a'] });
    expect(loadConfig(cloud).cloud).not.toHaveProperty('projectId');
    expect(loadConfig({ ...cloud, CLOUDSTACK_APPLIANCE_VM_ID: ' a1 , b-2 ', CLOUDSTACK_PROJECT_ID: 'p' }).cloud).toMatchObject({
      applianceVmIds: ['a1', 'b-2'],
      projectId: 'p',
    });
    expect(error({ ...cloud, CLOUDSTACK_APPLIANCE_VM_ID: 'a,a' }).message).toBe('CLOUDSTACK_APPLIANCE_VM_ID: names an id twice');
    expect(error({ ...cloud, CLOUDSTACK_APPLIANCE_VM_ID: ' , ' }).message).toBe('CLOUDSTACK_APPLIANCE_VM_ID: must name at least one id');
    expect(error({ ...cloud, CLOUDSTACK_APPLIANCE_VM_ID: 'a;rm' }).variable).toBe('CLOUDSTACK_APPLIANCE_VM_ID');
  });

  it('names the variable and the problem, never echoing a secret', () => {
    expect(error({ PORT: '70000' }).message).toBe('PORT: must be an integer between 0 and 65535 (got "70000")');
    expect(error({ PORT: '1.5' }).variable).toBe('PORT');
    expect(error({ SHUTDOWN_TIMEOUT_MS: '-1' }).variable).toBe('SHUTDOWN_TIMEOUT_MS');
    expect(error({ MAX_PAGE_SIZE: '0' }).variable).toBe('MAX_PAGE_SIZE');
    expect(error({ DATABASE_URL: 'not a url' }).message).toMatch(/^DATABASE_URL: is not a URL/);
    expect(error({ DATABASE_URL: 'https://user:pw@host/db' }).message).not.toContain('pw');
    expect(error({ DATABASE_URL: 'sqlite:' }).variable).toBe('DATABASE_URL');
  });

  it('never lets a production database fall back to the simulator unasked', () => {
    expect(error({ DATABASE_URL: 'mariadb://a@b/c' }).variable).toBe('CLOUDSTACK_URL');
    expect(loadConfig({ DATABASE_URL: 'mariadb://a@b/c', CLOUDSTACK_SIMULATOR: 'true' }).cloud.kind).toBe('simulator');
    expect(error({ CLOUDSTACK_SIMULATOR: 'false' }).message).toMatch(/^CLOUDSTACK_URL: is required when CLOUDSTACK_SIMULATOR=false/);
    expect(error({ CLOUDSTACK_SIMULATOR: 'true', CLOUDSTACK_URL: 'https://c' }).variable).toBe('CLOUDSTACK_SIMULATOR');
    expect(error({ CLOUDSTACK_SIMULATOR: 'perhaps' }).variable).toBe('CLOUDSTACK_SIMULATOR');
  });

  it('accepts only decimal ports and real host names', () => {
    for (const port of ['0x50', '1e3', ' 80', '80.0', '-1']) expect(error({ PORT: port }).variable).toBe('PORT');
    for (const host of ['0.0.0.0', '::1', 'localhost', 'api.example.internal']) expect(loadConfig({ HOST: host }).host).toBe(host);
    for (const host of ['a b', 'http://x', 'x..y', '-x']) expect(error({ HOST: host }).variable).toBe('HOST');
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '  ', CLOUDSTACK_URL: '' })).toMatchObject({
      port: 4000,
      database: { kind: 'sqlite' },
      cloud: { kind: 'simulator' },
    });
  });
});

describe('API_TOKENS', () => {
  it('reads role:token pairs', () => {
    expect(loadConfig({ API_TOKENS: 'operator:0123456789abcdef, viewer:fedcba9876543210' }).apiTokens).toEqual([
      { role: 'operator', token: '0123456789abcdef' },
      { role: 'viewer', token: 'fedcba9876543210' },
    ]);
    expect(loadConfig({}).apiTokens).toEqual([]);
  });

  it('refuses unknown roles and short tokens without echoing them', () => {
    const badRole = error({ API_TOKENS: 'root:0123456789abcdef' });
    expect(badRole.message).toBe('API_TOKENS: entry 1 must be role:token with role viewer or operator or admin');
    const short = error({ API_TOKENS: 'viewer:0123456789abcdef,operator:tiny9' });
    expect(short.message).toBe('API_TOKENS: the token of entry 2 is shorter than 16 characters');
    expect(short.message).not.toContain('tiny9');
  });
});
