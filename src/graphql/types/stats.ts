import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType()
export class DeliveryStats {
  @Field(() => Int)
  total: number;

  @Field(() => Int)
  succeeded: number;

  @Field(() => Int)
  failed: number;

  @Field(() => Int)
  pending: number;

  @Field(() => Float, { nullable: true })
  successRate: number | null;

  @Field(() => Int, { nullable: true })
  latencyP50Ms: number | null;

  @Field(() => Int, { nullable: true })
  latencyP95Ms: number | null;

  @Field(() => Date, { nullable: true })
  lastSuccessAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastFailureAt: Date | null;
}
