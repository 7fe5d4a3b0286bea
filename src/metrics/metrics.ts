import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process, served at /metrics. */
export class Metrics {
  readonly registry = new Registry();

  readonly graphqlRequests = new Counter({
    name: 'hookline_graphql_requests_total',
    help: 'GraphQL operations by operation name, type and outcome',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly graphqlDuration = new Histogram({
    name: 'hookline_graphql_request_duration_seconds',
    help: 'GraphQL operation latency by operation name and type',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hookline_' });
  }

  /** Apollo plugin that times every operation. */
  apolloPlugin(): ApolloServerPlugin {
    const { graphqlRequests, graphqlDuration } = this;
    return {
      async requestDidStart() {
        const started = process.hrtime.bigint();
        return {
          async willSendResponse(ctx) {
            const operation = operationLabel(ctx.operationName ?? ctx.operation?.name?.value);
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

/** Client-chosen names are bounded so that they cannot blow up the label set. */
function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) ? name : 'invalid';
}
