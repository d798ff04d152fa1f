import { UseMiddleware, type MiddlewareFn } from 'type-graphql';
import type { Role } from '../roles.js';
import { requireRole } from '../server/auth.js';
import type { Context } from '../server/context.js';

/**
 * Every mutation is declared with this (beside `@Mutation`): it checks the caller's role and
 * audits the mutation — the service writes the record in the change's own transaction through
 * `ctx.audit.change`; a refusal (FORBIDDEN included) is recorded here; a mutation whose service
 * wrote nothing is recorded once it succeeded. The audit test runs every mutation of the schema.
 */
export function AuditedMutation(role: Role): MethodDecorator & PropertyDecorator {
  const middleware: MiddlewareFn<Context> = async ({ context, info, args }, next) => {
    const audit = context.audit.begin(info.fieldName, args as Record<string, unknown>);
    try {
      requireRole(context.principal, role, info.fieldName);
      const result: unknown = await next();
      await audit.settle();
      return result;
    } catch (error) {
      await audit.refused(error).catch((failure: unknown) => context.logger.error({ err: failure }, 'could not write the audit record of a refusal'));
      throw error;
    } finally {
      context.audit.end();
    }
  };
  return UseMiddleware(middleware);
}
