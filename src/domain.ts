/** Values shared by the entities, the services and the GraphQL types. */

export enum Environment {
  STAGING = 'STAGING',
  PRODUCTION = 'PRODUCTION',
}

export enum Role {
  OPERATOR = 'OPERATOR',
  ADMIN = 'ADMIN',
  PUBLISHER = 'PUBLISHER',
  VIEWER = 'VIEWER',
}

export enum PayloadFormat {
  ENVELOPE = 'ENVELOPE',
  FLAT = 'FLAT',
  XML = 'XML',
}

export enum DeliveryStatus {
  PENDING = 'PENDING',
  RETRYING = 'RETRYING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

/** PUSH: Hookline POSTs each delivery to the URL; PULL: the consumer leases deliveries with pullDeliveries and acknowledges them. */
export enum SubscriptionKind {
  PUSH = 'PUSH',
  PULL = 'PULL',
}

/** How deliveries of events that share an ordering key reach one subscription. */
export enum DeliveryOrdering {
  NONE = 'NONE',
  PER_KEY = 'PER_KEY',
}

/** The tenant that every account-scoped query takes (docs/ARCHITECTURE.md, Where each rule lives). */
export interface Scope {
  accountId: string;
  environment: Environment;
}
