import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: "One interval of a subscription's delivery history" })
export class DeliveryStatsBucket {
  @Field({ description: 'Start of the interval; it lasts bucketSeconds' })
  start: Date;

  @Field(() => Int, { description: 'Deliveries created in the interval that have succeeded' })
  succeeded: number;

  @Field(() => Int, { description: 'Deliveries created in the interval that have failed' })
  failed: number;

  @Field(() => Int, { description: 'Deliveries created in the interval still pending or retrying' })
  pending: number;

  @Field(() => Int, { description: 'Deliveries created in the interval that were cancelled' })
  cancelled: number;

  @Field(() => Int, { description: 'Attempts started in the interval' })
  attempts: number;

  @Field(() => Int, { description: 'Attempts started in the interval that failed' })
  failedAttempts: number;

  @Field(() => Int, { nullable: true, description: 'Median duration of the attempts started in the interval' })
  latencyP50Ms: number | null;

  @Field(() => Int, { nullable: true, description: '95th percentile duration of the attempts started in the interval' })
  latencyP95Ms: number | null;
}
