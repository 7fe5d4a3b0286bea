import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { DeliveryStatus, Role } from '../../domain.js';
import { actorOfContext, scopeOf, type GraphQLContext } from '../context.js';
import { loadersOf } from '../loaders.js';
import { nullWhenNotFound } from '../nullable.js';
import { presentBlockedOrderingKey, presentDelivery, presentDeliveryAttempt, presentDeliveryStats } from '../presenters/delivery.js';
import { presentEvent } from '../presenters/event.js';
import { presentSubscription } from '../presenters/subscription.js';
import { DeliveryAttempt } from '../types/attempt.js';
import { Delivery, DeliveryConnection, DeliveryFilter } from '../types/delivery.js';
import { Event } from '../types/event.js';
import { PageArgs, toConnection } from '../types/pagination.js';
import { DeliveryStats } from '../types/stats.js';
import { BlockedOrderingKey, WebhookSubscription } from '../types/subscription.js';

@Resolver(() => Delivery)
export class DeliveryResolver {
  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => DeliveryConnection)
  async deliveries(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => DeliveryFilter, { nullable: true }) filter: DeliveryFilter | null,
    @Args() page: PageArgs,
  ): Promise<DeliveryConnection> {
    const found = await ctx.services.deliveries.list(scopeOf(ctx), filter ?? {}, PageArgs.size(page), page.after);
    return toConnection(found, presentDelivery);
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => Delivery, { nullable: true })
  async delivery(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Delivery | null> {
    const found = await nullWhenNotFound(ctx.services.deliveries.get(scopeOf(ctx), id));
    return found && presentDelivery(found);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Delivery, { description: 'Sends a webhook.test event to this subscription alone, whatever its channels' })
  async sendTestEvent(@Ctx() ctx: GraphQLContext, @Arg('subscriptionId', () => ID) subscriptionId: string): Promise<Delivery> {
    return presentDelivery(await ctx.services.deliveries.sendTest(scopeOf(ctx), subscriptionId));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Delivery, {
    description: 'Queues the delivery again with the same id, so that receivers can still de-duplicate; its attempts continue',
  })
  async redeliver(@Ctx() ctx: GraphQLContext, @Arg('deliveryId', () => ID) deliveryId: string): Promise<Delivery> {
    return presentDelivery(await ctx.services.deliveries.redeliver(scopeOf(ctx), actorOfContext(ctx), deliveryId));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Int, { description: 'Queues again every FAILED delivery of the subscription created since then; returns how many' })
  async replayFailedDeliveries(
    @Ctx() ctx: GraphQLContext,
    @Arg('subscriptionId', () => ID) subscriptionId: string,
    @Arg('since') since: Date,
  ): Promise<number> {
    return ctx.services.deliveries.replayFailed(scopeOf(ctx), actorOfContext(ctx), subscriptionId, since);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Int, { description: 'Lets the deliveries waiting behind a FAILED one go on without it; returns how many' })
  async unblockOrderingKey(
    @Ctx() ctx: GraphQLContext,
    @Arg('subscriptionId', () => ID) subscriptionId: string,
    @Arg('orderingKey') orderingKey: string,
  ): Promise<number> {
    return ctx.services.deliveries.unblockOrderingKey(scopeOf(ctx), actorOfContext(ctx), subscriptionId, orderingKey);
  }

  @FieldResolver(() => Event)
  async event(@Ctx() ctx: GraphQLContext, @Root() delivery: Delivery): Promise<Event> {
    return presentEvent(await loadersOf(ctx).event.load(delivery.eventId));
  }

  @FieldResolver(() => WebhookSubscription)
  async subscription(@Ctx() ctx: GraphQLContext, @Root() delivery: Delivery): Promise<WebhookSubscription> {
    return presentSubscription(await loadersOf(ctx).subscription.load(delivery.subscriptionId));
  }

  @FieldResolver(() => [DeliveryAttempt])
  async attempts(@Ctx() ctx: GraphQLContext, @Root() delivery: Delivery): Promise<DeliveryAttempt[]> {
    return (await loadersOf(ctx).attemptsOfDelivery.load(delivery.id)).map(presentDeliveryAttempt);
  }
}

/** The delivery history fields of a subscription. */
@Resolver(() => WebhookSubscription)
export class SubscriptionHistoryResolver {
  @FieldResolver(() => DeliveryStats)
  async stats(
    @Ctx() ctx: GraphQLContext,
    @Root() subscription: WebhookSubscription,
    @Arg('since', () => Date, { nullable: true }) since: Date | null,
  ): Promise<DeliveryStats> {
    return presentDeliveryStats(await ctx.services.deliveries.stats(scopeOf(ctx), subscription.id, since));
  }

  @FieldResolver(() => [BlockedOrderingKey], { description: 'Ordering keys whose deliveries wait behind a FAILED one' })
  async blockedOrderingKeys(
    @Ctx() ctx: GraphQLContext,
    @Root() subscription: WebhookSubscription,
    @Arg('first', () => Int, { defaultValue: 50, nullable: true }) first: number | null,
  ): Promise<BlockedOrderingKey[]> {
    const blocked = await ctx.services.deliveries.blockedOrderingKeys(
      scopeOf(ctx),
      subscription.id,
      PageArgs.size(Object.assign(new PageArgs(), { first })),
    );
    return blocked.map(presentBlockedOrderingKey);
  }

  @FieldResolver(() => DeliveryConnection)
  async deliveries(
    @Ctx() ctx: GraphQLContext,
    @Root() subscription: WebhookSubscription,
    @Arg('status', () => DeliveryStatus, { nullable: true }) status: DeliveryStatus | null,
    @Args() page: PageArgs,
  ): Promise<DeliveryConnection> {
    const found = await ctx.services.deliveries.list(scopeOf(ctx), { subscriptionId: subscription.id, status }, PageArgs.size(page), page.after);
    return toConnection(found, presentDelivery);
  }
}

@Resolver(() => BlockedOrderingKey)
export class BlockedOrderingKeyResolver {
  @FieldResolver(() => Delivery, { description: 'The delivery that ended FAILED and holds the key' })
  async failedDelivery(@Ctx() ctx: GraphQLContext, @Root() blocked: BlockedOrderingKey): Promise<Delivery> {
    return presentDelivery(await ctx.services.deliveries.get(scopeOf(ctx), blocked.failedDeliveryId));
  }
}
