import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { EndpointHealthState } from '../../delivery-engine/endpoint-health.js';

registerEnumType(EndpointHealthState, {
  name: 'EndpointHealthState',
  valuesConfig: {
    HEALTHY: { description: 'The last attempt succeeded, or none failed yet' },
    FAILING: { description: 'The last attempts failed, not yet enough of them in a row to hold the endpoint' },
    HELD: {
      description:
        'Too many attempts failed in a row: deliveries wait (spending no attempts) while one probe is sent at nextProbeAt; a success releases them',
    },
  },
});

@ObjectType({ description: 'How the endpoint has been answering the deliveries' })
export class EndpointHealth {
  @Field(() => EndpointHealthState)
  state: EndpointHealthState;

  @Field(() => Date, { nullable: true, description: 'When the endpoint entered this state; null if it never failed' })
  since: Date | null;

  @Field(() => Int, { description: 'Failed attempts since the last success' })
  consecutiveFailures: number;

  @Field(() => Date, { nullable: true, description: 'While HELD: when the next probe attempt is due' })
  nextProbeAt: Date | null;
}
