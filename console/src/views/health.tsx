import { when } from '../format';

export interface EndpointHealth {
  state: string;
  since: string | null;
  consecutiveFailures: number;
  nextProbeAt: string | null;
}

export const HEALTH_FIELDS = 'endpointHealth { state since consecutiveFailures nextProbeAt }';

const WORDS: Record<string, string> = { HEALTHY: 'Healthy', FAILING: 'Failing', HELD: 'Held' };
const MEANING: Record<string, string> = {
  HEALTHY: 'The last attempt succeeded, or none failed yet',
  FAILING: 'The last attempts failed, not yet enough in a row to hold the endpoint',
  HELD: 'Too many attempts failed in a row: deliveries wait while one probe is sent; a success releases them',
};

export function HealthBadge({ health, detailed = false }: { health: EndpointHealth; detailed?: boolean }) {
  return (
    <span>
      <span class={`badge health-${health.state.toLowerCase()}`} title={MEANING[health.state]}>
        {WORDS[health.state] ?? health.state}
      </span>
      {health.consecutiveFailures > 0 && (
        <span class="hint">
          {' '}
          {health.consecutiveFailures} failed {health.consecutiveFailures === 1 ? 'attempt' : 'attempts'} in a row
        </span>
      )}
      {detailed && health.since && <span class="hint"> · since {when(health.since)}</span>}
      {detailed && health.nextProbeAt && <span class="hint"> · next probe {when(health.nextProbeAt)}</span>}
      {detailed && <div class="hint">{MEANING[health.state]}</div>}
    </span>
  );
}
