import { Field, ObjectType } from 'type-graphql';

/** Relay page info. */
@ObjectType({ simpleResolvers: true })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean)
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor?: string | null;

  @Field(() => String, { nullable: true })
  endCursor?: string | null;
}

export { checkFirst, decodeCursor, encodeCursor, page } from '../services/pagination.js';
