import { EVENT_NAME_PATTERN, channelOf } from '../catalog/rules.js';
import { MAX_IDLE_EXPIRY_SECONDS, MIN_IDLE_EXPIRY_SECONDS } from '../pull/outcome.js';
import { DEFAULT_API_URL, parseApiUrl } from './api-client.js';
import { CliError, EXIT } from './errors.js';
import { isValidListenName } from './state.js';

/** Command-line checks of listen and trigger, as pure functions: every mistake is a usage error naming the flag. */

export interface ApiFlags {
  api?: string;
  key?: string;
}

export interface ApiSettings {
  api: string;
  key: string;
}

/** --api and --key, else HOOKLINE_API_URL and HOOKLINE_API_KEY; the URL defaults to a local Hookline. */
export function resolveApiSettings(flags: ApiFlags, env: NodeJS.ProcessEnv = process.env): ApiSettings {
  const rawUrl = flags.api ?? (env.HOOKLINE_API_URL || DEFAULT_API_URL);
  let api: string;
  try {
    api = parseApiUrl(rawUrl);
  } catch (error) {
    throw new CliError(`--api: ${(error as Error).message}`, EXIT.usage);
  }
  const key = flags.key ?? env.HOOKLINE_API_KEY;
  if (!key) throw new CliError('No API key: set HOOKLINE_API_KEY (or pass --key).', EXIT.usage);
  return { api, key };
}

/** "a, b,,a" → ["a", "b"]: trimmed, without empties or repeats. */
export function parseList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((item) => item.trim()))].filter((item) => item !== '');
}

/** The channel of an event name `channel.action`. */
function channelOfEvent(event: string): string {
  if (!EVENT_NAME_PATTERN.test(event)) throw new CliError(`--events: ${event} is not an event name (channel.action, e.g. invoices.paid)`, EXIT.usage);
  return channelOf(event);
}

/**
 * The channels a subscription needs for these flags: those named, and those
 * of the events named. A subscription that lists events receives only those,
 * so a channel named in --channels with none of its events in --events
 * would receive nothing: that is refused rather than left to surprise.
 */
export function subscriptionChannels(channels: string[], events: string[]): string[] {
  if (channels.length === 0 && events.length === 0) {
    throw new CliError('Name what to receive: --channels (e.g. invoices,bills) and/or --events (e.g. invoices.paid).', EXIT.usage);
  }
  const ofEvents = events.map(channelOfEvent);
  if (events.length > 0) {
    const idle = channels.filter((channel) => !ofEvents.includes(channel));
    if (idle.length > 0) {
      throw new CliError(
        `--channels ${idle.join(',')} would receive nothing: with --events only the events listed arrive. ` +
          `List the events of ${idle.join(', ')} too, or drop --events to receive whole channels.`,
        EXIT.usage,
      );
    }
  }
  return [...new Set([...channels, ...ofEvents])];
}

/** Seconds between MIN and MAX, or `never` (null). */
export function parseIdleExpiry(value: string): number | null {
  if (value === 'never') return null;
  const seconds = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < MIN_IDLE_EXPIRY_SECONDS || seconds > MAX_IDLE_EXPIRY_SECONDS) {
    throw new CliError(
      `--expire-after-idle: ${value} is not a number of seconds from ${MIN_IDLE_EXPIRY_SECONDS} to ${MAX_IDLE_EXPIRY_SECONDS}, or never`,
      EXIT.usage,
    );
  }
  return seconds;
}

export interface ListenFlags extends ApiFlags {
  forwardTo: string;
  channels?: string;
  events?: string;
  name: string;
  live?: boolean;
  printJson?: boolean;
  expireAfterIdle: string;
}

export interface ListenSettings extends ApiSettings {
  forwardTo: string;
  channels: string[];
  events: string[];
  name: string;
  live: boolean;
  printJson: boolean;
  expireAfterIdleSeconds: number | null;
}

export function resolveListenSettings(flags: ListenFlags, env: NodeJS.ProcessEnv = process.env): ListenSettings {
  let forwardTo: URL;
  try {
    forwardTo = new URL(flags.forwardTo);
  } catch {
    throw new CliError(`--forward-to: not a URL: ${flags.forwardTo} (e.g. http://localhost:3000/webhooks)`, EXIT.usage);
  }
  if (forwardTo.protocol !== 'http:' && forwardTo.protocol !== 'https:') {
    throw new CliError(`--forward-to: not an http or https URL: ${flags.forwardTo}`, EXIT.usage);
  }
  if (!isValidListenName(flags.name)) {
    throw new CliError(`--name: ${flags.name} must be 1 to 64 letters, digits, dots, dashes or underscores`, EXIT.usage);
  }
  const events = parseList(flags.events);
  const channels = subscriptionChannels(parseList(flags.channels), events);
  return {
    ...resolveApiSettings(flags, env),
    forwardTo: forwardTo.toString(),
    channels,
    events,
    name: flags.name,
    live: flags.live === true,
    printJson: flags.printJson === true,
    expireAfterIdleSeconds: parseIdleExpiry(flags.expireAfterIdle),
  };
}

/** Whether two selections of channels and events receive the same events, whatever their order. */
export function sameSelection(a: { channels: string[]; events: string[] }, b: { channels: string[]; events: string[] }): boolean {
  const same = (x: string[], y: string[]) => {
    const left = [...new Set(x)].sort();
    const right = [...new Set(y)].sort();
    return left.length === right.length && left.every((item, i) => item === right[i]);
  };
  return same(a.channels, b.channels) && same(a.events, b.events);
}
