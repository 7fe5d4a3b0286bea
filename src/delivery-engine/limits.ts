/** Deliveries to one endpoint in flight across all workers, unless its subscription sets maxInFlight. */
export const DEFAULT_MAX_IN_FLIGHT = 10;
export const MIN_MAX_IN_FLIGHT = 1;
export const MAX_MAX_IN_FLIGHT = 1000;
