import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyInfo } from '../access/api-keys.js';
import { listAudit } from '../services/audit-log.js';
import { Role } from '../roles.js';
import type { Context } from '../server/context.js';
import { ApiKeyType, AuditLogConnection, AuditLogFilter, CreateApiKeyInput, CreatedApiKey } from './access.types.js';
import { AuditedMutation } from './audited-mutation.js';

const keyType = (info: ApiKeyInfo): ApiKeyType => ({ ...info });

/** API keys and the audit log: admins only. */
@Resolver()
export class AccessResolver {
  @Authorized(Role.ADMIN)
  @Query(() => [ApiKeyType], { description: 'Every API key, newest first, revoked ones included (never a secret). Admin.' })
  async apiKeys(@Ctx() { em }: Context): Promise<ApiKeyType[]> {
    return (await listApiKeys(em)).map(keyType);
  }

  @AuditedMutation(Role.ADMIN)
  @Mutation(() => CreatedApiKey, { description: 'Creates an API key; the answer holds the key, shown this once. Admin. Refused: BAD_USER_INPUT.' })
  async createApiKey(@Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput, @Ctx() { em, audit, principal, keys }: Context): Promise<CreatedApiKey> {
    const change = audit.change;
    const created = await createApiKey(em, {
      name: input.name,
      role: input.role,
      createdBy: principal.name,
      alsoWrite: (tx) => change.inTransaction(tx, input.name),
    });
    await keys.refresh();
    return { apiKey: keyType(created.info), key: created.key };
  }

  @AuditedMutation(Role.ADMIN)
  @Mutation(() => ApiKeyType, {
    description: 'Revokes an API key at once: requests with it are refused and its open WebSockets closed (4403). Admin. Refused: NOT_FOUND.',
  })
  async revokeApiKey(@Arg('name', () => String) name: string, @Ctx() { em, audit, keys }: Context): Promise<ApiKeyType> {
    const change = audit.change;
    const revoked = await revokeApiKey(em, name, (tx) => change.inTransaction(tx, name));
    await keys.refresh();
    return keyType(revoked);
  }

  @Authorized(Role.ADMIN)
  @Query(() => AuditLogConnection, { description: 'The audit log: every mutation, who, when, from where, the outcome; newest first. Admin.' })
  async auditLog(
    @Ctx() { em, maxPageSize }: Context,
    @Arg('filter', () => AuditLogFilter, { nullable: true }) filter?: AuditLogFilter,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number = 50,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<AuditLogConnection> {
    const result = await listAudit(em, { filter, first, after, maxPageSize });
    return {
      pageInfo: result.pageInfo,
      edges: result.edges.map(({ node, cursor }) => ({
        cursor,
        node: { ...node, id: String(node.id), actorRole: (node.actorRole as Role | null) ?? null, outcome: node.outcome as never },
      })),
    };
  }
}
