import { isIP } from 'node:net';
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
  /** The address every port Hookline opens listens on; unset: every interface. */
  bindAddress: string | undefined;
  dataDir: string;
  bootstrapToken: string | undefined;
  /** 32 bytes. Unset only with the embedded database: then generated into the data directory at start. */
  masterKey: Buffer | undefined;
  /** Earlier master keys: they still decrypt, and `hookline reencrypt-secrets` moves what they sealed to masterKey. */
  previousMasterKeys: Buffer[];
  allowPrivateUrls: boolean;
  /** Quotas per account and environment. */
  maxSubscriptions: number;
  maxEventTypes: number;
  /** CPU time one check of data against an account's own JSON Schema may take. */
  schemaCheckMs: number;
  workerConcurrency: number;
  deliveryTimeoutMs: number;
  /** How often the queue looks for jobs of crashed workers (their heartbeats stopped) to run them again. */
  queueMonitorSeconds: number;
  /** Retries of an event that failed to fan out before it is dead-lettered. */
  fanOutRetries: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  // Delivery engine.
  /** Port of a worker process's /healthz, /readyz and /metrics; 0 picks a free one. */
  workerPort: number;
  /** Deliveries to one endpoint in flight across all workers when its subscription sets no maxInFlight. */
  defaultMaxInFlight: number;
  /** Deadline of one DNS lookup of an endpoint's host, in the workers and when a subscription is saved. */
  dnsTimeoutMs: number;
  /** The DNS servers endpoint hosts are resolved with (`host` or `host:port`); unset: the system's. */
  dnsServers: string[] | undefined;
  /** Events, their deliveries and attempts older than this many days are deleted. */
  retentionDays: number;
  /** Audit entries older than this many days are deleted, oldest first (the newest of each log is always kept). */
  auditRetentionDays: number;
  /** Unset: pretty on a terminal, JSON lines otherwise. */
  logFormat: 'pretty' | 'json' | undefined;
  /** A PostgreSQL installation (bin/, lib/, share/) for the embedded database; unset: the packaged one. */
  postgresBinaries: string | undefined;
  /** API request limits and the metrics route. */
  api: ApiSettings;
}

export interface ApiSettings {
  rateLimitPerKey: number;
  /** The most requests per second an ADMIN may give a key of its own (createApiKey, setApiKeyRateLimit). */
  rateLimitPerKeyCeiling: number;
  rateLimitPerAddress: number;
  rateLimitWindowSeconds: number;
  /** Proxies in front of the API whose X-Forwarded-For is believed: 0 takes the peer address. */
  trustProxyHops: number;
  /** Set: /metrics is served on this port alone, not beside /graphql. */
  metricsPort: number | undefined;
  /** Set: /metrics answers only with "Authorization: Bearer <token>". */
  metricsToken: string | undefined;
  /** The address the port of its own that /metrics may have listens on; unset: bindAddress. */
  metricsBindAddress: string | undefined;
  /** The address the API listens on; unset: every interface. */
  bindAddress: string | undefined;
  /** The CSP frame-ancestors sources of every page: who may show the console in a frame. */
  frameAncestors: string;
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

/** A numeric IPv4 or IPv6 address, or a host name, to listen on. */
const listenAddress = z
  .string()
  .trim()
  .refine(
    (v) => isIP(v.replace(/^\[|\]$/g, '')) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(v),
    'must be an IP address or a host name',
  )
  .transform((v) => v.replace(/^\[|\]$/g, ''));

/**
 * CSP source expressions naming who may frame the pages: 'self', 'none', or
 * origins such as https://erp.example.com (wildcard subdomains allowed).
 */
const frameSources = z
  .string()
  .trim()
  .transform((v) => v.split(/\s+/).filter(Boolean))
  .refine(
    (sources) =>
      sources.length > 0 &&
      sources.every((s) => s === "'self'" || (s === "'none'" && sources.length === 1) || /^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/.test(s)),
    "must be 'self', 'none', or origins such as https://erp.example.com, separated by spaces",
  )
  .transform((sources) => sources.join(' '));

const variables = {
  NODE_ENV: z.enum(['development', 'production', 'test'], 'must be development, production or test'),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'must be a postgres:// or postgresql:// URL'),
  PORT: integerString(0, 65535),
  HOOKLINE_BIND_ADDRESS: listenAddress,
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
  HOOKLINE_MASTER_KEY_PREVIOUS: z
    .string()
    .trim()
    .transform((v) =>
      v
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((k) => Buffer.from(k, 'base64')),
    )
    .refine((keys) => keys.every((b) => b.length === 32), 'must be one or more 32-byte keys in base64, separated by commas'),
  HOOKLINE_ALLOW_PRIVATE_URLS: booleanString,
  HOOKLINE_MAX_SUBSCRIPTIONS: integerString(1, 1_000_000),
  HOOKLINE_MAX_EVENT_TYPES: integerString(1, 100_000),
  HOOKLINE_SCHEMA_CHECK_MS: integerString(50, 60_000),
  HOOKLINE_WORKER_CONCURRENCY: integerString(1, 1000),
  HOOKLINE_DELIVERY_TIMEOUT_MS: integerString(100, 300_000),
  HOOKLINE_QUEUE_MONITOR_SECONDS: integerString(1, 3600),
  HOOKLINE_FANOUT_RETRIES: integerString(0, 100),
  HOOKLINE_WORKER_PORT: integerString(0, 65535),
  HOOKLINE_DEFAULT_MAX_IN_FLIGHT: integerString(1, 1000),
  HOOKLINE_DNS_TIMEOUT_MS: integerString(100, 60_000),
  HOOKLINE_DNS_SERVERS: z
    .string()
    .trim()
    .transform((v) => v.split(/[\s,]+/).filter(Boolean))
    .refine(
      (servers) => servers.length > 0 && servers.every((s) => isIP(s) !== 0 || /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(s)),
      'must be IP addresses (with :port, IPv6 in brackets), separated by commas',
    ),
  HOOKLINE_RETENTION_DAYS: integerString(1, 3650),
  HOOKLINE_AUDIT_RETENTION_DAYS: integerString(1, 36500),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be a pino log level'),
  // API request limits and the metrics route
  HOOKLINE_RATE_LIMIT_PER_KEY: integerString(1, 1_000_000_000),
  HOOKLINE_RATE_LIMIT_PER_ADDRESS: integerString(1, 1_000_000_000),
  HOOKLINE_RATE_LIMIT_PER_KEY_CEILING: integerString(1, 1_000_000_000),
  HOOKLINE_RATE_LIMIT_WINDOW_SECONDS: integerString(1, 3600),
  HOOKLINE_TRUST_PROXY_HOPS: integerString(0, 10),
  HOOKLINE_METRICS_PORT: integerString(0, 65535),
  HOOKLINE_METRICS_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .max(256, 'must be at most 256 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  HOOKLINE_METRICS_BIND_ADDRESS: listenAddress,
  HOOKLINE_FRAME_ANCESTORS: frameSources,
  HOOKLINE_LOG_FORMAT: z.enum(['pretty', 'json'], 'must be pretty or json'),
  HOOKLINE_POSTGRES_BINARIES: z.string().trim().min(1, 'must not be empty'),
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
  // A key generated per process would let two processes on one database
  // seal secrets that the other cannot open: only the embedded database,
  // which one process owns, gets a generated key.
  if (v.DATABASE_URL && !v.HOOKLINE_MASTER_KEY) {
    throw new ConfigError('HOOKLINE_MASTER_KEY', 'is required when DATABASE_URL is set (32 bytes in base64, e.g. openssl rand -base64 32)');
  }
  if (v.HOOKLINE_METRICS_PORT !== undefined && v.HOOKLINE_METRICS_PORT !== 0 && v.HOOKLINE_METRICS_PORT === (v.PORT ?? 4000)) {
    throw new ConfigError('HOOKLINE_METRICS_PORT', 'must differ from PORT (leave it unset to serve /metrics beside the API)');
  }
  return {
    nodeEnv,
    databaseUrl: v.DATABASE_URL,
    port: v.PORT ?? 4000,
    bindAddress: v.HOOKLINE_BIND_ADDRESS,
    dataDir: v.HOOKLINE_DATA_DIR ?? '.hookline',
    bootstrapToken: v.HOOKLINE_BOOTSTRAP_TOKEN,
    masterKey: v.HOOKLINE_MASTER_KEY,
    previousMasterKeys: v.HOOKLINE_MASTER_KEY_PREVIOUS ?? [],
    // Private endpoints only when asked for, or in the embedded development
    // mode: an unset NODE_ENV on a server must not open the internal network.
    allowPrivateUrls: v.HOOKLINE_ALLOW_PRIVATE_URLS ?? (!production && !v.DATABASE_URL),
    maxSubscriptions: v.HOOKLINE_MAX_SUBSCRIPTIONS ?? 100,
    maxEventTypes: v.HOOKLINE_MAX_EVENT_TYPES ?? 200,
    schemaCheckMs: v.HOOKLINE_SCHEMA_CHECK_MS ?? 2_000,
    // With 100 rather than 50, each claim and each group write of attempts serves about twice the
    // deliveries, which cut the CPU per delivery by a twentieth to a tenth (docs/performance.md); ten
    // endpoints at the default cap of 10 in flight each can then all be full.
    workerConcurrency: v.HOOKLINE_WORKER_CONCURRENCY ?? 100,
    deliveryTimeoutMs: v.HOOKLINE_DELIVERY_TIMEOUT_MS ?? 15_000,
    queueMonitorSeconds: v.HOOKLINE_QUEUE_MONITOR_SECONDS ?? 15,
    fanOutRetries: v.HOOKLINE_FANOUT_RETRIES ?? 5,
    logLevel: v.LOG_LEVEL ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    api: {
      rateLimitPerKey: v.HOOKLINE_RATE_LIMIT_PER_KEY ?? 100,
      rateLimitPerKeyCeiling: v.HOOKLINE_RATE_LIMIT_PER_KEY_CEILING ?? 1_000,
      rateLimitPerAddress: v.HOOKLINE_RATE_LIMIT_PER_ADDRESS ?? 20,
      rateLimitWindowSeconds: v.HOOKLINE_RATE_LIMIT_WINDOW_SECONDS ?? 1,
      trustProxyHops: v.HOOKLINE_TRUST_PROXY_HOPS ?? 0,
      metricsPort: v.HOOKLINE_METRICS_PORT,
      metricsToken: v.HOOKLINE_METRICS_TOKEN,
      metricsBindAddress: v.HOOKLINE_METRICS_BIND_ADDRESS ?? v.HOOKLINE_BIND_ADDRESS,
      bindAddress: v.HOOKLINE_BIND_ADDRESS,
      frameAncestors: v.HOOKLINE_FRAME_ANCESTORS ?? "'self'",
    },
    logFormat: v.HOOKLINE_LOG_FORMAT,
    postgresBinaries: v.HOOKLINE_POSTGRES_BINARIES,
    workerPort: v.HOOKLINE_WORKER_PORT ?? 4001,
    defaultMaxInFlight: v.HOOKLINE_DEFAULT_MAX_IN_FLIGHT ?? 10,
    dnsTimeoutMs: v.HOOKLINE_DNS_TIMEOUT_MS ?? 5_000,
    dnsServers: v.HOOKLINE_DNS_SERVERS,
    retentionDays: v.HOOKLINE_RETENTION_DAYS ?? 30,
    auditRetentionDays: v.HOOKLINE_AUDIT_RETENTION_DAYS ?? 400,
  };
}
