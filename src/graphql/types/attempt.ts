import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType()
export class DeliveryAttempt {
  @Field(() => ID)
  id: string;

  @Field(() => Int, { description: '1 for the first attempt' })
  number: number;

  @Field()
  startedAt: Date;

  @Field(() => Int)
  durationMs: number;

  @Field(() => Int, { nullable: true })
  responseStatus: number | null;

  @Field(() => String, { nullable: true, description: 'At most the first 4 KiB of the response body' })
  responseBody: string | null;

  @Field(() => String, { nullable: true, description: 'Transport error (timeout, refused, blocked address), when there was no response' })
  error: string | null;

  @Field()
  succeeded: boolean;
}
