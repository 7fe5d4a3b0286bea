import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process, served at /metrics. */
export class Metrics {
  readonly registry = new Registry();

  readonly graphqlRequests = new Counter({
    name: 'hookline_graphql_requests_total',
    help: 'GraphQL operations by root field (or multiple, or unknown when not valid), type and outcome',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly graphqlDuration = new Histogram({
    name: 'hookline_graphql_request_duration_seconds',
    help: 'GraphQL operation latency by root field and type',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'hookline_graphql_rate_limited_total',
    help: 'GraphQL requests refused by the rate limit, by what was counted: an API key or a client address',
    labelNames: ['by'] as const,
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: 'hookline_delivery_attempts_total',
    help: 'Delivery attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly deliveryDuration = new Histogram({
    name: 'hookline_delivery_attempt_duration_seconds',
    help: 'Duration of delivery attempts, connect to last byte',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [this.registry],
  });

  readonly deliveriesInFlight = new Gauge({
    name: 'hookline_deliveries_in_flight',
    help: 'Deliveries being attempted by this process',
    registers: [this.registry],
  });

  readonly deliveryQueueDepth = new Gauge({
    name: 'hookline_delivery_queue_depth',
    help: 'Deliveries due now and not yet attempted, in the whole database (sampled by worker processes)',
    registers: [this.registry],
  });

  readonly heldEndpoints = new Gauge({
    name: 'hookline_endpoints_held',
    help: 'Subscriptions whose endpoint is HELD after consecutive failures (sampled by worker processes)',
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'hookline_queue_jobs',
    help: 'Jobs waiting in a pg-boss queue (created or retrying, due or not)',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly queueOldestJobAge = new Gauge({
    name: 'hookline_queue_oldest_job_age_seconds',
    help: 'Age of the oldest job waiting in a pg-boss queue; 0 when none waits',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly eventsFannedOut = new Counter({
    name: 'hookline_events_fanned_out_total',
    help: 'Events fanned out into deliveries by this process',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly eventsDeadLettered = new Counter({
    name: 'hookline_events_dead_lettered_total',
    help: 'Events this process sent to the dead-letter queue, by reason code',
    labelNames: ['queue', 'reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hookline_' });
  }

  /**
   * Apollo plugin that times every operation. Operations are labelled by the
   * schema's root field they ask for, never by a name the client chose, so
   * the label set is fixed by the schema whatever is sent.
   */
  apolloPlugin(): ApolloServerPlugin {
    const { graphqlRequests, graphqlDuration } = this;
    return {
      async requestDidStart() {
        const started = process.hrtime.bigint();
        return {
          async willSendResponse(ctx) {
            const operation = operationLabel(ctx.schema, ctx.document, ctx.operation);
            const type = ctx.operation?.operation ?? 'unknown';
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            const outcome = ctx.errors?.length ? 'error' : 'ok';
            graphqlRequests.inc({ operation, type, outcome });
            graphqlDuration.observe({ operation, type }, seconds);
          },
        };
      },
    };
  }
}

/**
 * The root field an operation selects, `multiple` when it selects several,
 * `unknown` when it was not resolved to a valid operation. Only validated
 * operations get here with a document and an operation, and validation has
 * checked that every root field is one of the schema's.
 */
export function operationLabel(schema: GraphQLSchema, document: DocumentNode | undefined, operation: OperationDefinitionNode | undefined): string {
  if (!document || !operation) return 'unknown';
  const root = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'query' ? schema.getQueryType() : undefined;
  if (!root) return 'unknown';
  const known = root.getFields();
  const names = new Set<string>();
  const visited = new Set<string>();
  const collect = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) collect(selection.selectionSet);
      else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
        if (fragment?.kind === Kind.FRAGMENT_DEFINITION) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  names.delete('__typename');
  if (names.size === 0) return '__typename';
  if (names.size > 1) return 'multiple';
  const [name] = names as unknown as [string];
  if (name === '__schema' || name === '__type') return 'introspection';
  return Object.hasOwn(known, name) ? name : 'unknown';
}
