import { Property } from '@mikro-orm/decorators/legacy';
import { Field, GraphQLISODateTime, ObjectType } from 'type-graphql';

/**
 * The seed's `created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP` / `updated_at … ON UPDATE
 * CURRENT_TIMESTAMP` pair. The ORM sets both itself too, so the embedded SQLite database (which
 * has no ON UPDATE) keeps them right.
 */
@ObjectType({ simpleResolvers: true })
export abstract class Timestamped {
  @Field(() => GraphQLISODateTime, { nullable: true })
  @Property({ type: 'datetime', columnType: 'timestamp', nullable: true, defaultRaw: 'current_timestamp', onCreate: () => new Date() })
  createdAt?: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  @Property({
    type: 'datetime',
    columnType: 'timestamp',
    nullable: true,
    defaultRaw: 'current_timestamp',
    extra: 'on update current_timestamp()',
    onCreate: () => new Date(),
    onUpdate: () => new Date(),
  })
  updatedAt?: Date | null;
}
