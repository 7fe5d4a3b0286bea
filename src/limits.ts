/**
 * Limits on what clients send, one per concept, so that the GraphQL input
 * checks, the services and the documentation agree (docs/api.md).
 */

/** An event type (`channel.action`), a channel or an action name. */
export const MAX_EVENT_NAME_LENGTH = 100;

/** The display name of an account or an API key. */
export const MAX_DISPLAY_NAME_LENGTH = 200;
