import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../../domain.js';
import { DISPUTE_OPENED, INVOICE_PAID, PROMISE_TO_PAY_CREATED, type TypedEvent } from '../../catalog/typed-events.js';
import { publisherOf, scopeOf, type GraphQLContext } from '../context.js';
import { loadersOf } from '../loaders.js';
import { nullWhenNotFound } from '../nullable.js';
import { presentDelivery } from '../presenters/delivery.js';
import { presentEvent, presentPublishEvents, presentPublishedEvent } from '../presenters/event.js';
import { Delivery } from '../types/delivery.js';
import { Event, EventConnection, EventFilter } from '../types/event.js';
import { PageArgs, toConnection } from '../types/pagination.js';
import { PublishEventInput, PublishEventsResult, PublishedEvent } from '../types/publish.js';
import { DisputeOpenedInput, InvoicePaidInput, PromiseToPayInput, typedEventData, type TypedEventInput } from '../types/typed-events.js';

/** A typed mutation publishes like publishEvent; the input's fields are the data, so errors name `input.<field>`. */
async function publishTyped(ctx: GraphQLContext, event: TypedEvent, input: TypedEventInput): Promise<PublishedEvent> {
  const result = await ctx.services.events.publish(
    publisherOf(ctx),
    { type: event.type, data: typedEventData(event, input), idempotencyKey: input.idempotencyKey, orderingKey: input.orderingKey },
    { data: 'input', idempotencyKey: 'input.idempotencyKey', orderingKey: 'input.orderingKey', type: null },
  );
  return presentPublishedEvent(result);
}

@Resolver(() => Event)
export class EventResolver {
  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent)
  async publishEvent(@Ctx() ctx: GraphQLContext, @Arg('input') input: PublishEventInput): Promise<PublishedEvent> {
    return presentPublishedEvent(await ctx.services.events.publish(publisherOf(ctx), input));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishEventsResult, { description: 'Up to 1,000 events in one call; the accepted ones commit together with their queue jobs' })
  async publishEvents(
    @Ctx() ctx: GraphQLContext,
    // Each item is checked by the service and refused on its own; class-validator would refuse the whole call.
    @Arg('inputs', () => [PublishEventInput], { validate: false }) inputs: PublishEventInput[],
  ): Promise<PublishEventsResult> {
    return presentPublishEvents(await ctx.services.events.publishMany(publisherOf(ctx), inputs));
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent, { description: 'Publishes invoices.paid' })
  async recordInvoicePaid(@Ctx() ctx: GraphQLContext, @Arg('input', () => InvoicePaidInput) input: TypedEventInput): Promise<PublishedEvent> {
    return publishTyped(ctx, INVOICE_PAID, input);
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent, { description: 'Publishes disputes.opened' })
  async openDispute(@Ctx() ctx: GraphQLContext, @Arg('input', () => DisputeOpenedInput) input: TypedEventInput): Promise<PublishedEvent> {
    return publishTyped(ctx, DISPUTE_OPENED, input);
  }

  @Authorized(Role.ADMIN, Role.PUBLISHER)
  @Mutation(() => PublishedEvent, { description: 'Publishes promises_to_pay.created' })
  async recordPromiseToPay(@Ctx() ctx: GraphQLContext, @Arg('input', () => PromiseToPayInput) input: TypedEventInput): Promise<PublishedEvent> {
    return publishTyped(ctx, PROMISE_TO_PAY_CREATED, input);
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => EventConnection)
  async events(
    @Ctx() ctx: GraphQLContext,
    @Arg('filter', () => EventFilter, { nullable: true }) filter: EventFilter | null,
    @Args() page: PageArgs,
  ): Promise<EventConnection> {
    const found = await ctx.services.events.list(scopeOf(ctx), filter ?? {}, PageArgs.size(page), page.after);
    return toConnection(found, presentEvent);
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @Query(() => Event, { nullable: true })
  async event(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Event | null> {
    const found = await nullWhenNotFound(ctx.services.events.get(scopeOf(ctx), id));
    return found && presentEvent(found);
  }

  @Authorized(Role.ADMIN, Role.VIEWER)
  @FieldResolver(() => [Delivery])
  async deliveries(@Ctx() ctx: GraphQLContext, @Root() event: Event): Promise<Delivery[]> {
    const rows = await loadersOf(ctx).deliveriesOfEvent.load(event.id);
    return rows.map(presentDelivery);
  }
}
