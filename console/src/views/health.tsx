import type { Session } from '../app';
import { when } from '../format';

export interface EndpointHealth {
  state: string;
  since: string | null;
  consecutiveFailures: number;
  nextProbeAt: string | null;
}

/** The endpointHealth selection when this server's schema has the field; nothing otherwise. */
export function healthSelection(session: Session): string {
  return session.subscriptionFields.has('endpointHealth') ? 'endpointHealth { state since consecutiveFailures nextProbeAt }' : '';
}

const WORDS: Record<string, string> = { HEALTHY: 'Healthy', FAILING: 'Failing', HELD: 'Held' };

export function HealthBadge({ session, health, detailed = false }: { session: Session; health: EndpointHealth | null | undefined; detailed?: boolean }) {
  if (!session.subscriptionFields.has('endpointHealth')) return <span class="hint">Not reported by this server</span>;
  if (!health) return <span class="hint">No deliveries yet</span>;
  return (
    <span>
      <span class={`badge health-${health.state.toLowerCase()}`}>{WORDS[health.state] ?? health.state}</span>
      {health.consecutiveFailures > 0 && <span class="hint"> {health.consecutiveFailures} failures in a row</span>}
      {detailed && health.since && <span class="hint"> since {when(health.since)}</span>}
      {detailed && health.nextProbeAt && <span class="hint">; next probe {when(health.nextProbeAt)}</span>}
    </span>
  );
}
