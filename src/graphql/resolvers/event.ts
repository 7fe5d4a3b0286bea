import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../../domain.js';
import type { PublishResult } from '../../events/service.js';
import { checkPageSize } from '../../pagination.js';
import { scopeOf, type GraphQLContext } from '../context.js';
import { loadersOf } from '../loaders.js';
import {
  Delivery,
  DisputeOpenedInput,
  Event,
  EventConnection,
  EventFilter,
  InvoicePaidInput,
  PromiseToPayInput,
  PublishEventInput,
  PublishedEvent,
  toConnection,
} from '../types/delivery.js';

function published(result: PublishResult): PublishedEvent {
  return Object.assign(new PublishedEvent(), { event: Event.from(result.event), duplicate: result.duplicate });
}

@Resolver(() => Event)
export class EventResolver {
  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent)
  async publishEvent(@Ctx() ctx: GraphQLContext, @Arg('input') input: PublishEventInput): Promise<PublishedEvent> {
    return published(await ctx.services.events.publish(scopeOf(ctx), input));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent, { description: 'Publishes invoices.paid' })
  async recordInvoicePaid(@Ctx() ctx: GraphQLContext, @Arg('input') input: InvoicePaidInput): Promise<PublishedEvent> {
    const { idempotencyKey, paidAt, ...rest } = input;
    const data = { ...rest, paidAt: paidAt.toISOString() };
    return published(await ctx.services.events.publish(scopeOf(ctx), { type: 'invoices.paid', data, idempotencyKey }, 'input'));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent, { description: 'Publishes disputes.opened' })
  async openDispute(@Ctx() ctx: GraphQLContext, @Arg('input') input: DisputeOpenedInput): Promise<PublishedEvent> {
    const { idempotencyKey, openedAt, ...rest } = input;
    const data = { ...rest, openedAt: openedAt.toISOString() };
    return published(await ctx.services.events.publish(scopeOf(ctx), { type: 'disputes.opened', data, idempotencyKey }, 'input'));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent, { description: 'Publishes promises_to_pay.created' })
  async recordPromiseToPay(@Ctx() ctx: GraphQLContext, @Arg('input') input: PromiseToPayInput): Promise<PublishedEvent> {
    const { idempotencyKey, amount, ...rest } = input;
    const data = amount === null || amount === undefined ? rest : { ...rest, amount };
    return published(await ctx.services.events.publish(scopeOf(ctx), { type: 'promises_to_pay.created', data, idempotencyKey }, 'input'));
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => EventConnection)
  async events(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => EventFilter, { nullable: true }) filter: EventFilter | null,
    @Arg('first', () => Int, { defaultValue: 50, nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<EventConnection> {
    const page = await ctx.services.events.list(scopeOf(ctx), filter ?? {}, checkPageSize(first ?? 50), after);
    return toConnection(page, (e) => Event.from(e));
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => Event, { nullable: true })
  async event(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Event | null> {
    return Event.from(await ctx.services.events.get(scopeOf(ctx), id));
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @FieldResolver(() => [Delivery])
  async deliveries(@Ctx() ctx: GraphQLContext, @Root() event: Event): Promise<Delivery[]> {
    const rows = await loadersOf(ctx).deliveriesOfEvent.load(event.id);
    return rows.map((d) => Delivery.from(d));
  }
}
