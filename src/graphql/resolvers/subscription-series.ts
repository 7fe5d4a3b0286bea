import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { scopeOf, type GraphQLContext } from '../context.js';
import { presentStatsBucket } from '../presenters/delivery.js';
import { DeliveryStatsBucket } from '../types/series.js';
import { WebhookSubscription } from '../types/subscription.js';

/** The delivery history of a subscription as a time series, for charts. */
@Resolver(() => WebhookSubscription)
export class SubscriptionSeriesResolver {
  @FieldResolver(() => [DeliveryStatsBucket], {
    description:
      'Deliveries by outcome and attempt latency per interval of bucketSeconds (60 to 86400), from since (default: 24 hours before until) to until (default: now); at most 500 intervals',
  })
  async statsSeries(
    @Ctx() ctx: GraphQLContext,
    @Root() subscription: WebhookSubscription,
    @Arg('since', () => Date, { nullable: true }) since: Date | null,
    @Arg('until', () => Date, { nullable: true }) until: Date | null,
    @Arg('bucketSeconds', () => Int, { defaultValue: 3600, nullable: true }) bucketSeconds: number | null,
  ): Promise<DeliveryStatsBucket[]> {
    const buckets = await ctx.services.statsSeries.series(scopeOf(ctx), subscription.id, { since, until, bucketSeconds: bucketSeconds ?? 3600 });
    return buckets.map(presentStatsBucket);
  }
}
