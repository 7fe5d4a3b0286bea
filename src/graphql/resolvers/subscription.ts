import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../../domain.js';
import { redactHeaderValues, redactQueryValues } from '../../subscriptions/validation.js';
import { actorOfContext, requirePrincipal, scopeOf, type GraphQLContext } from '../context.js';
import { loadersOf } from '../loaders.js';
import { presentCreatedSubscription, presentRotatedSecret, presentSigningSecret, presentSubscription } from '../presenters/subscription.js';
import {
  CreatedWebhookSubscription,
  CreateWebhookSubscriptionInput,
  RotatedSecret,
  SigningSecret,
  UpdateWebhookSubscriptionInput,
  WebhookSubscription,
} from '../types/subscription.js';

/**
 * Subscriptions and their secrets. ADMIN changes them; ADMIN and VIEWER
 * read them. PUBLISHER does not: a publishing service has no need to know
 * where events go, and endpoints and their headers are the account's
 * integration details. Plaintext secrets reach ADMIN only, through the
 * one-time `secret` fields and webhookSecrets.
 */
@Resolver(() => WebhookSubscription)
export class SubscriptionResolver {
  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => [WebhookSubscription])
  async webhookSubscriptions(@Ctx() ctx: GraphQLContext): Promise<WebhookSubscription[]> {
    return (await ctx.services.subscriptions.list(scopeOf(ctx))).map((s) => presentSubscription(s));
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => WebhookSubscription, { nullable: true })
  async webhookSubscription(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<WebhookSubscription> {
    return presentSubscription(await ctx.services.subscriptions.get(scopeOf(ctx), id));
  }

  @Authorized(Role.ADMIN)
  @Query(() => [String], { description: 'ADMIN only: the secrets currently used for signing, newest first' })
  async webhookSecrets(@Ctx() ctx: GraphQLContext, @Arg('subscriptionId', () => ID) subscriptionId: string): Promise<string[]> {
    return ctx.services.subscriptions.revealSecrets(scopeOf(ctx), actorOfContext(ctx), subscriptionId);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedWebhookSubscription)
  async createWebhookSubscription(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => CreateWebhookSubscriptionInput) input: CreateWebhookSubscriptionInput,
  ): Promise<CreatedWebhookSubscription> {
    return presentCreatedSubscription(await ctx.services.subscriptions.create(scopeOf(ctx), actorOfContext(ctx), input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => WebhookSubscription)
  async updateWebhookSubscription(
    @Ctx() ctx: GraphQLContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateWebhookSubscriptionInput) input: UpdateWebhookSubscriptionInput,
  ): Promise<WebhookSubscription> {
    return presentSubscription(await ctx.services.subscriptions.update(scopeOf(ctx), actorOfContext(ctx), id, input));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => Boolean)
  async deleteWebhookSubscription(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    await ctx.services.subscriptions.delete(scopeOf(ctx), actorOfContext(ctx), id);
    return true;
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => RotatedSecret, { description: 'The new secret signs at once; the current one keeps signing beside it until it expires' })
  async rotateWebhookSecret(
    @Ctx() ctx: GraphQLContext,
    @Arg('id', () => ID) id: string,
    @Arg('expireCurrentAfterSeconds', () => Int, { nullable: true, defaultValue: 86400 }) expireCurrentAfterSeconds: number | null,
    @Arg('secret', () => String, { nullable: true }) secret: string | null,
  ): Promise<RotatedSecret> {
    return presentRotatedSecret(
      await ctx.services.subscriptions.rotateSecret(scopeOf(ctx), actorOfContext(ctx), id, expireCurrentAfterSeconds, secret),
    );
  }

  /** Metadata of the secrets that sign now; never their plaintext. */
  @FieldResolver(() => [SigningSecret])
  async secrets(@Ctx() ctx: GraphQLContext, @Root() subscription: WebhookSubscription): Promise<SigningSecret[]> {
    return (await loadersOf(ctx).activeSecretsOfSubscription.load(subscription.id)).map((s) => presentSigningSecret(s));
  }

  @FieldResolver(() => GraphQLJSON, { nullable: true, description: 'Extra headers sent with every delivery' })
  headers(@Ctx() ctx: GraphQLContext, @Root() subscription: WebhookSubscription): Record<string, string> | null {
    return requirePrincipal(ctx).role === Role.ADMIN
      ? ctx.services.secrets.openHeaders(subscription.id, subscription.headers)
      : redactHeaderValues(subscription.headers);
  }

  @FieldResolver(() => String, { description: 'The endpoint URL; for a VIEWER, the values of its query string are redacted' })
  url(@Ctx() ctx: GraphQLContext, @Root() subscription: WebhookSubscription): string {
    return requirePrincipal(ctx).role === Role.ADMIN ? subscription.url : redactQueryValues(subscription.url);
  }
}
