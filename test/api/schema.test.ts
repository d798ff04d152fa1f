import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { printAppSchema } from '../../src/server/print-schema.js';

describe('schema.graphql', () => {
  it('is exactly what the code generates (run `npm run schema:print` after changing a resolver)', async () => {
    const committed = readFileSync(resolve(import.meta.dirname, '../../schema.graphql'), 'utf8');
    expect(committed).toBe(await printAppSchema());
  });

  it('has the contract of DESIGN §3', async () => {
    const sdl = await printAppSchema();
    for (const line of [
      'failoverJob(jobId: String!): FailoverJob',
      'failoverJobs(after: String, filter: FailoverJobFilter, first: Int = 50): FailoverJobConnection!',
      'networkMappings(vmId: String!): [NetworkMapping!]!',
      'vmReadiness(type: FailoverType!, vmId: String!): VmReadiness!',
      'enum FailoverType {\n  LIVE\n  TEST\n}',
    ]) {
      expect(sdl).toContain(line);
    }
    expect(sdl).toMatch(
      /enum FailoverStatus \{\n  CLEANED_UP\n  CLEANUP\n  COMPLETED\n  CREATING_VM\n  EXECUTING\n  FAILED\n  PENDING\n  POWERING_ON\n  REVERTED\n  REVERTING\n  SNAPSHOTTING\n  SWITCHING_VOLUME\n  UNKNOWN\n  VALIDATING\n\}/,
    );
  });
});
