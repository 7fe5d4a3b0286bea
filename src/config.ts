import { z } from 'zod';

/** Raised when an environment variable is invalid; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

export type NodeEnv = 'development' | 'production' | 'test';

export interface Config {
  nodeEnv: NodeEnv;
  /** Unset: the embedded PostgreSQL under dataDir is used. */
  databaseUrl: string | undefined;
  port: number;
  dataDir: string;
  bootstrapToken: string | undefined;
  /** 32 bytes. Unset outside production: generated into the data directory at start. */
  masterKey: Buffer | undefined;
  allowPrivateUrls: boolean;
  workerConcurrency: number;
  deliveryTimeoutMs: number;
  /** How often the queue looks for jobs of crashed workers (their heartbeats stopped) to run them again. */
  queueMonitorSeconds: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  // Delivery engine.
  /** Port of a worker process's /healthz, /readyz and /metrics; 0 picks a free one. */
  workerPort: number;
  /** Deliveries to one endpoint in flight across all workers when its subscription sets no maxInFlight. */
  defaultMaxInFlight: number;
  /** Deadline of one DNS lookup of an endpoint's host. */
  dnsTimeoutMs: number;
  /** Events, their deliveries and attempts older than this many days are deleted. */
  retentionDays: number;
}

const booleanString = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const integerString = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const variables = {
  NODE_ENV: z.enum(['development', 'production', 'test'], 'must be development, production or test'),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'must be a postgres:// or postgresql:// URL'),
  PORT: integerString(0, 65535),
  HOOKLINE_DATA_DIR: z.string().trim().min(1, 'must not be empty'),
  HOOKLINE_BOOTSTRAP_TOKEN: z
    .string()
    .min(32, 'must be at least 32 characters')
    .max(256, 'must be at most 256 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  HOOKLINE_MASTER_KEY: z
    .string()
    .trim()
    .transform((v) => Buffer.from(v, 'base64'))
    .refine((b) => b.length === 32, 'must be 32 bytes encoded in base64'),
  HOOKLINE_ALLOW_PRIVATE_URLS: booleanString,
  HOOKLINE_WORKER_CONCURRENCY: integerString(1, 1000),
  HOOKLINE_DELIVERY_TIMEOUT_MS: integerString(100, 300_000),
  HOOKLINE_QUEUE_MONITOR_SECONDS: integerString(1, 3600),
  HOOKLINE_WORKER_PORT: integerString(0, 65535),
  HOOKLINE_DEFAULT_MAX_IN_FLIGHT: integerString(1, 1000),
  HOOKLINE_DNS_TIMEOUT_MS: integerString(100, 60_000),
  HOOKLINE_RETENTION_DAYS: integerString(1, 3650),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be a pino log level'),
} as const;

type Parsed = { [K in keyof typeof variables]: z.output<(typeof variables)[K]> | undefined };

/**
 * Reads and validates the environment once. Empty strings count as unset so
 * that `FOO= hookline start` behaves like leaving FOO out.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = {} as Record<string, unknown>;
  for (const [name, schema] of Object.entries(variables)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      parsed[name] = undefined;
      continue;
    }
    const result = schema.safeParse(raw);
    if (!result.success) {
      throw new ConfigError(name, result.error.issues[0]?.message ?? 'is invalid');
    }
    parsed[name] = result.data;
  }
  const v = parsed as Parsed;
  const nodeEnv = v.NODE_ENV ?? 'development';
  const production = nodeEnv === 'production';
  if (production && !v.HOOKLINE_MASTER_KEY) {
    throw new ConfigError('HOOKLINE_MASTER_KEY', 'is required when NODE_ENV=production');
  }
  return {
    nodeEnv,
    databaseUrl: v.DATABASE_URL,
    port: v.PORT ?? 4000,
    dataDir: v.HOOKLINE_DATA_DIR ?? '.hookline',
    bootstrapToken: v.HOOKLINE_BOOTSTRAP_TOKEN,
    masterKey: v.HOOKLINE_MASTER_KEY,
    allowPrivateUrls: v.HOOKLINE_ALLOW_PRIVATE_URLS ?? !production,
    workerConcurrency: v.HOOKLINE_WORKER_CONCURRENCY ?? 50,
    deliveryTimeoutMs: v.HOOKLINE_DELIVERY_TIMEOUT_MS ?? 15_000,
    queueMonitorSeconds: v.HOOKLINE_QUEUE_MONITOR_SECONDS ?? 15,
    logLevel: v.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    workerPort: v.HOOKLINE_WORKER_PORT ?? 4001,
    defaultMaxInFlight: v.HOOKLINE_DEFAULT_MAX_IN_FLIGHT ?? 10,
    dnsTimeoutMs: v.HOOKLINE_DNS_TIMEOUT_MS ?? 5_000,
    retentionDays: v.HOOKLINE_RETENTION_DAYS ?? 30,
  };
}
