import type { ChannelView } from '../../catalog/service.js';
import type { EventTypeEntity } from '../../db/entities/index.js';
import { Channel, EventType } from '../types/catalog.js';

export function presentChannel(view: ChannelView): Channel {
  return Object.assign(new Channel(), { name: view.name, label: view.label, actions: view.actions, exclusive: view.exclusive });
}

export function presentEventType(entity: EventTypeEntity): EventType {
  return Object.assign(new EventType(), {
    name: entity.name,
    channel: entity.channel,
    action: entity.action,
    description: entity.description,
    schema: entity.schema,
    example: entity.example,
  });
}
