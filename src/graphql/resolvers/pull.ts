import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { Role } from '../../domain.js';
import { actorOfContext, scopeOf, type GraphQLContext } from '../context.js';
import { presentDelivery } from '../presenters/delivery.js';
import { presentCreatedSubscription } from '../presenters/subscription.js';
import { CreatePullSubscriptionInput, PulledDelivery, PullResultInput } from '../types/pull.js';
import { CreatedWebhookSubscription } from '../types/subscription.js';

/**
 * PULL subscriptions: an ADMIN creates one; its consumers (ADMIN or
 * PUBLISHER keys of the account and environment) lease and acknowledge its
 * deliveries.
 */
@Resolver()
export class PullResolver {
  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedWebhookSubscription)
  async createPullSubscription(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => CreatePullSubscriptionInput) input: CreatePullSubscriptionInput,
  ): Promise<CreatedWebhookSubscription> {
    return presentCreatedSubscription(await ctx.services.subscriptions.createPull(scopeOf(ctx), actorOfContext(ctx), input));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Query(() => [PulledDelivery], {
    description: 'PULL subscriptions: due deliveries, leased to the caller for 60 s; waits up to waitSeconds (at most 20) for one to arrive',
  })
  async pullDeliveries(
    @Ctx() ctx: GraphQLContext,
    @Arg('subscriptionId', () => ID) subscriptionId: string,
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) first: number | null,
    @Arg('waitSeconds', () => Int, { nullable: true, defaultValue: 0 }) waitSeconds: number | null,
  ): Promise<PulledDelivery[]> {
    const pulled = await ctx.services.pull.pull(scopeOf(ctx), subscriptionId, first ?? 100, waitSeconds ?? 0, ctx.leaving);
    return pulled.map((p) =>
      Object.assign(new PulledDelivery(), { delivery: presentDelivery(p.delivery), leaseToken: p.leaseToken, headers: p.headers, body: p.body }),
    );
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => Int, { description: 'Results of pulled deliveries; returns how many were recorded' })
  async acknowledgeDeliveries(
    @Ctx() ctx: GraphQLContext,
    @Arg('subscriptionId', () => ID) subscriptionId: string,
    @Arg('results', () => [PullResultInput]) results: PullResultInput[],
  ): Promise<number> {
    return ctx.services.pull.acknowledge(scopeOf(ctx), subscriptionId, results);
  }
}
