import 'reflect-metadata';
import { testServices } from '../helpers/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Query, Resolver } from 'type-graphql';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server/http-server.js';
import { buildAppSchema } from '../../src/server/schema.js';
import { gql, wsClient, wsRequest } from '../helpers/graphql.js';
import { openMigratedDatabase, type MigratedDatabase } from '../helpers/api-server.js';

/** A deferred: a promise and the function that settles it. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const entered = { ws: deferred(), http: deferred() };
const release = deferred<string>();

/** A query that waits until the test releases it: an operation in flight at shutdown. */
@Resolver()
class SlowResolver {
  @Query(() => String)
  async slowWs(): Promise<string> {
    entered.ws.resolve();
    return release.promise;
  }

  @Query(() => String)
  async slowHttp(): Promise<string> {
    entered.http.resolve();
    return release.promise;
  }
}

let db: MigratedDatabase;
beforeAll(async () => {
  db = await openMigratedDatabase('shutdown');
});
afterAll(() => db?.close());

describe('close() drains both transports', () => {
  it('lets in-flight WebSocket and HTTP operations finish, then closes sockets with 1001', async () => {
    const schema = await buildAppSchema([SlowResolver]);
    const logger = createLogger({ level: 'silent' });
    const services = await testServices(db.orm, logger);
    const server = await startServer({ schema, em: db.orm.em, logger, port: 0, services: services.runtime.services });
    const client = wsClient(server.wsUrl);
    const closed = new Promise<number>((ok) => client.on('closed', (event) => ok((event as { code: number }).code)));
    const overWs = wsRequest(client, '{ slowWs }');
    const overHttp = gql(server.url, '{ slowHttp }');
    await Promise.all([entered.ws.promise, entered.http.promise]);

    let closedServer = false;
    const closing = server.close().then(() => (closedServer = true));
    // Both operations are still running: the server must not be closed yet.
    await new Promise((r) => setImmediate(r));
    expect(closedServer).toBe(false);

    release.resolve('done');
    expect(await overWs).toEqual({ data: { slowWs: 'done' } });
    expect((await overHttp).data).toEqual({ slowHttp: 'done' });
    expect(await closed).toBe(1001);
    await closing;
    expect(closedServer).toBe(true);
    await client.dispose();
    await services.close();
  });
});
