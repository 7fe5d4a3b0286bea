import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Role } from '../../domain.js';
import { actorOfContext, scopeOf, type GraphQLContext } from '../context.js';
import { presentChannel, presentEventType } from '../presenters/catalog.js';
import { Channel, DefineEventTypeInput, EventType } from '../types/catalog.js';

/** The catalog is readable by every role of an account; only an ADMIN extends it. */
@Resolver()
export class CatalogResolver {
  @Authorized(Role.ADMIN, Role.PUBLISHER, Role.VIEWER)
  @Query(() => [Channel])
  async channels(@Ctx() ctx: GraphQLContext): Promise<Channel[]> {
    return (await ctx.services.catalog.listChannels(scopeOf(ctx))).map((c) => presentChannel(c));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER, Role.VIEWER)
  @Query(() => [EventType])
  async eventTypes(@Ctx() ctx: GraphQLContext, @Arg('channel', () => String, { nullable: true }) channel: string | null): Promise<EventType[]> {
    return (await ctx.services.catalog.listEventTypes(scopeOf(ctx), channel)).map((t) => presentEventType(t));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER, Role.VIEWER)
  @Query(() => [String], { description: 'Every event name, e.g. for a subscription form' })
  async eventNames(@Ctx() ctx: GraphQLContext): Promise<string[]> {
    return ctx.services.catalog.eventNames(scopeOf(ctx));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => EventType)
  async defineEventType(@Ctx() ctx: GraphQLContext, @Arg('input', () => DefineEventTypeInput) input: DefineEventTypeInput): Promise<EventType> {
    return presentEventType(await ctx.services.catalog.defineEventType(scopeOf(ctx), actorOfContext(ctx), input));
  }
}
