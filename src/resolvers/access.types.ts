import { Field, GraphQLISODateTime, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { AuditOutcome } from '../access/audit.js';
import { Role } from '../roles.js';
import { PageInfo } from './connection.js';

registerEnumType(Role, {
  name: 'Role',
  description: 'viewer reads and subscribes; operator also runs failovers; admin also manages mappings, keys and the audit log.',
});
registerEnumType(AuditOutcome, { name: 'AuditOutcome' });

/** An API key as listed: never its secret. */
@ObjectType('ApiKey', { simpleResolvers: true })
export class ApiKeyType {
  @Field(() => String)
  name!: string;

  @Field(() => Role)
  role!: Role;

  @Field(() => String, { description: 'The public part of the key (fo_<prefix>_…), to tell keys apart.' })
  prefix!: string;

  @Field(() => String, { nullable: true })
  createdBy?: string | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;

  @Field(() => GraphQLISODateTime, { nullable: true, description: 'The last use, to the minute.' })
  lastUsedAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  revokedAt?: Date | null;
}

/** A key just created, with the key itself: shown this once, never again. */
@ObjectType({ simpleResolvers: true })
export class CreatedApiKey {
  @Field(() => ApiKeyType)
  apiKey!: ApiKeyType;

  @Field(() => String, { description: 'The key. It is stored only as a hash: keep it now, it cannot be shown again.' })
  key!: string;
}

@InputType()
export class CreateApiKeyInput {
  @Field(() => String, { description: '1–64 letters, digits, dots, dashes, underscores; never reused.' })
  name!: string;

  @Field(() => Role)
  role!: Role;
}

@ObjectType({ simpleResolvers: true })
export class AuditLogEntry {
  @Field(() => String)
  id!: string;

  @Field(() => GraphQLISODateTime)
  occurredAt!: Date;

  @Field(() => String, { description: 'The key’s name, `token:<fingerprint>`, `anonymous`, or `system:<what>`.' })
  actor!: string;

  @Field(() => Role, { nullable: true })
  actorRole?: Role | null;

  @Field(() => String, { nullable: true, description: 'The client’s address.' })
  source?: string | null;

  @Field(() => String, { description: 'http or ws.' })
  transport!: string;

  @Field(() => String, { description: 'The mutation.' })
  operation!: string;

  @Field(() => String, { nullable: true, description: 'What it was about: a VM, a job, a key.' })
  target?: string | null;

  @Field(() => String, { nullable: true, description: 'Its arguments as JSON, long values cut.' })
  arguments?: string | null;

  @Field(() => AuditOutcome)
  outcome!: AuditOutcome;

  @Field(() => String, { nullable: true, description: 'The refusal’s code.' })
  errorCode?: string | null;

  @Field(() => String, { nullable: true })
  message?: string | null;
}

@ObjectType({ simpleResolvers: true })
export class AuditLogEdge {
  @Field(() => AuditLogEntry)
  node!: AuditLogEntry;

  @Field(() => String)
  cursor!: string;
}

@ObjectType({ simpleResolvers: true })
export class AuditLogConnection {
  @Field(() => [AuditLogEdge])
  edges!: AuditLogEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@InputType()
export class AuditLogFilter {
  @Field(() => String, { nullable: true })
  actor?: string | null;

  @Field(() => String, { nullable: true })
  operation?: string | null;

  @Field(() => String, { nullable: true })
  target?: string | null;

  @Field(() => AuditOutcome, { nullable: true })
  outcome?: AuditOutcome | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  since?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  until?: Date | null;
}
