import { ApiClient, ApiError, isRefused } from './api-client.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { eventTypes, publishEvent, viewer } from './operations.js';
import { resolveApiSettings, type ApiFlags } from './options.js';

/**
 * `hookline trigger TYPE`: publishes one event, with the catalog's example
 * data for its type or the data given, and prints the event's id. It tries
 * once: a publish that failed on the way back may have been stored, and a
 * second one would be a second event (unless an --idempotency-key is given,
 * in which case running the command again is safe).
 */

export interface TriggerFlags extends ApiFlags {
  data?: string;
  orderingKey?: string;
  idempotencyKey?: string;
  live?: boolean;
}

/** The event data from --data: any JSON value the API's schema for the type accepts. */
export function parseEventData(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(`--data is not valid JSON: ${(error as Error).message}`, EXIT.usage);
  }
}

export async function trigger(type: string, flags: TriggerFlags): Promise<ExitCode> {
  let api: ApiClient | undefined;
  try {
    const settings = resolveApiSettings(flags);
    const given = flags.data === undefined ? undefined : parseEventData(flags.data);
    api = new ApiClient(settings.api, settings.key);

    const me = await viewer(api);
    if (me.environment === 'PRODUCTION' && flags.live !== true) {
      throw new CliError('This is a PRODUCTION key: the event would reach live subscriptions. Use a STAGING key, or pass --live.', EXIT.usage);
    }
    const data = given !== undefined ? given : await exampleOf(api, type);
    const published = await publishEvent(api, {
      type,
      data,
      ...(flags.idempotencyKey !== undefined ? { idempotencyKey: flags.idempotencyKey } : {}),
      ...(flags.orderingKey !== undefined ? { orderingKey: flags.orderingKey } : {}),
    });
    process.stdout.write(`${published.event.id}\n`);
    const notes = [
      published.duplicate ? 'a duplicate: the event first published with this idempotency key' : undefined,
      published.event.sequence !== null ? `sequence ${published.event.sequence} of its ordering key` : undefined,
    ].filter((note) => note !== undefined);
    process.stderr.write(
      `Published ${type} (${me.environment.toLowerCase()}) as event ${published.event.id}${notes.length ? `, ${notes.join(', ')}` : ''}.\n`,
    );
    return EXIT.ok;
  } catch (error) {
    const failure = explain(error, api?.url);
    process.stderr.write(`${failure.message}\n`);
    return failure.exitCode;
  } finally {
    await api?.close();
  }
}

/**
 * The catalog's example for the type. A type the catalog does not know is
 * published anyway with empty data, so that the API's own error (which may
 * name the types it knows) is what the person reads.
 */
async function exampleOf(api: ApiClient, type: string): Promise<unknown> {
  const entry = (await eventTypes(api)).find((t) => t.name === type);
  if (!entry) return {};
  if (entry.example === null || entry.example === undefined) {
    throw new CliError(`The event type ${type} has no example in the catalog: pass its data with --data '{…}'.`, EXIT.usage);
  }
  return entry.example;
}

function explain(error: unknown, api: string | undefined): CliError {
  if (error instanceof CliError) return error;
  if (!(error instanceof ApiError)) throw error;
  if (error.code === 'UNAUTHENTICATED')
    return new CliError(`The API key was refused: ${error.message}. Check HOOKLINE_API_KEY (or --key).`, EXIT.refused);
  if (isRefused(error)) return new CliError(`Refused: ${error.message}`, EXIT.refused);
  if (error.kind === 'network') return new CliError(`Cannot reach the Hookline API at ${api}: ${error.message}`, EXIT.failed);
  return new CliError(error.message, EXIT.failed);
}
