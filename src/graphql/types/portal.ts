import { Field, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A signed, short-lived link into the console for one account and environment' })
export class PortalSession {
  @Field()
  url: string;

  @Field()
  expiresAt: Date;
}
