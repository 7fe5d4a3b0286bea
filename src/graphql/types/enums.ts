import { registerEnumType } from 'type-graphql';
import { DeliveryOrdering, DeliveryStatus, Environment, PayloadFormat, Role, SubscriptionKind } from '../../domain.js';

registerEnumType(Environment, {
  name: 'Environment',
  description: "Data is partitioned by environment, as in live vs test mode: a key of one environment never sees the other's data.",
});

registerEnumType(Role, {
  name: 'Role',
  valuesConfig: {
    OPERATOR: { description: "Platform operator: creates accounts. Sees no account's data." },
    ADMIN: { description: 'Manages subscriptions, secrets, API keys and event types of its account.' },
    PUBLISHER: {
      description: 'Internal services and consumers: publish events, read the catalog, pull and acknowledge deliveries of PULL subscriptions.',
    },
    VIEWER: { description: 'Read-only: subscriptions (without secrets), events, deliveries.' },
  },
});

registerEnumType(PayloadFormat, {
  name: 'PayloadFormat',
  valuesConfig: {
    ENVELOPE: { description: '{ event, message, idempotency_key, environment, timestamp, data }' },
    FLAT: { description: "{ event, ...data } with the data's keys at top level" },
    XML: { description: 'The envelope as an XML document' },
  },
});

registerEnumType(DeliveryStatus, {
  name: 'DeliveryStatus',
  valuesConfig: {
    PENDING: { description: 'Queued, not attempted yet' },
    RETRYING: { description: 'At least one failed attempt, another is scheduled' },
    SUCCEEDED: { description: 'A 2xx response was received' },
    FAILED: { description: 'Every scheduled attempt failed, or the endpoint answered 410 Gone' },
    CANCELLED: { description: 'Not sent: the subscription was deleted, disabled or no longer matches the channel rules' },
  },
});

registerEnumType(DeliveryOrdering, {
  name: 'DeliveryOrdering',
  description: 'How deliveries of events that share an ordering key reach one subscription',
  valuesConfig: {
    NONE: { description: 'Every delivery is sent when it is due, in parallel with the others' },
    PER_KEY: { description: 'Deliveries of events with the same orderingKey arrive one at a time, in sequence order; other keys are not held up' },
  },
});

registerEnumType(SubscriptionKind, {
  name: 'SubscriptionKind',
  valuesConfig: {
    PUSH: { description: "Hookline POSTs each delivery to the subscription's URL" },
    PULL: { description: 'The consumer fetches deliveries with pullDeliveries and acknowledges them' },
  },
});

export { DeliveryOrdering, DeliveryStatus, Environment, PayloadFormat, Role, SubscriptionKind };
