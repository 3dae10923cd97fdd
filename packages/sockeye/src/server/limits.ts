/**
 * Operational limits of a server: connection caps and handshake rates at the upgrade,
 * message rates per connection, publish rates per topic, connection lifetimes. Token
 * buckets throughout; every table keyed by something a peer chooses is bounded.
 * @packageDocumentation
 */
import { HandshakeError } from '../protocol/index.js';
import { addressGroup } from './client-address.js';

/** A rate: `perSecond` on average, with bursts of up to `burst`. */
export interface RateLimit {
  /** Tokens added per second (messages, bytes, handshakes, publishes). */
  perSecond: number;
  /** Bucket size: the most spent at once after a quiet spell. @defaultValue `perSecond` */
  burst?: number;
}

/** Caps checked at the upgrade, before a connection exists. */
export interface ConnectionLimitOptions {
  /** Most connections (open WebSockets and handshakes past this check); more are answered 503. @defaultValue no cap */
  maxConnections?: number;
  /** Most connections per client address group (see `ipv6Prefix`); more are answered 429. @defaultValue no cap */
  maxConnectionsPerAddress?: number;
  /**
   * IPv6 addresses count together per network of this prefix length for the per-address
   * cap and rate (a single subscriber usually holds a whole /64). @defaultValue 64
   */
  ipv6Prefix?: number;
  /** Handshakes per second per client address group (a token bucket); more are answered 429. @defaultValue no limit */
  handshakeRate?: RateLimit;
  /**
   * Most address groups whose handshake rate is remembered. Past it the least recently
   * seen is forgotten (its bucket starts full again), so an attacker with many addresses
   * cannot grow the table; memory stays near 100 bytes per entry. @defaultValue 10 000
   */
  maxTrackedAddresses?: number;
  /** The `Retry-After` of a 503 or 429 refusal, in seconds. @defaultValue 5 */
  retryAfter?: number;
}

/** What to do with a message past a connection's message rate. */
export type MessageLimitPolicy = 'close' | 'drop';

/** Rates of incoming messages per connection. */
export interface MessageLimitOptions {
  /** Messages per second from one connection (a token bucket). @defaultValue no limit */
  messages?: RateLimit;
  /** Payload bytes per second from one connection (a token bucket; a message above `burst` passes only when the bucket is full). @defaultValue no limit */
  bytes?: RateLimit;
  /**
   * `'close'`: close the connection with 1008 and a reason saying which rate; `'drop'`:
   * do not deliver the message, report it (the server's `limit` event and the
   * `sockeye:limit` channel), keep the connection. @defaultValue `'close'`
   */
  policy?: MessageLimitPolicy;
}

/** Which limit was hit. */
export type LimitKind =
  | 'max-connections'
  | 'max-connections-per-address'
  | 'handshake-rate'
  | 'message-rate'
  | 'byte-rate'
  | 'publish-rate'
  | 'max-lifetime'
  | 'idle-timeout'
  /** An EventSource stream fell behind by more than its `maxBufferedBytes` and was ended. */
  | 'slow-reader';

/** A limit was hit: the server's `limit` event and the `sockeye:limit` channel carry this. */
export interface LimitHit {
  /** Which limit. */
  readonly kind: LimitKind;
  /** The client address the limit applied to (undefined for a server's own publish). */
  readonly clientAddress: string | undefined;
  /** The connection's id (undefined at the upgrade, before there is one). */
  readonly connectionId: number | undefined;
  /** The topic of a `publish-rate` hit, or of an EventSource stream's. */
  readonly topic?: string;
  /** What was done: the handshake refused, the message dropped, the connection closed. */
  readonly action: 'refused' | 'dropped' | 'closed';
}

/** Default bound of the handshake-rate table. */
export const DEFAULT_MAX_TRACKED_ADDRESSES = 10_000;
/** Default bound of the publish-rate table (topics). */
export const DEFAULT_MAX_TRACKED_TOPICS = 10_000;

/**
 * A token bucket: `take(n)` succeeds while tokens remain, and tokens come back at
 * `perSecond`, up to `burst`. Refilled lazily from the clock given to `take`.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly perMs: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** A bucket for `rate`, full at `now` (ms). */
  static of(rate: Required<RateLimit>, now: number): TokenBucket {
    return new TokenBucket(rate.perSecond / 1000, rate.burst, now);
  }

  /**
   * Spend `count` tokens at `now` (ms) if there are that many. A count above `burst`
   * passes when the bucket is full and leaves it in debt (a message larger than the byte
   * burst is allowed, then paid for), so no single size is refused forever.
   */
  take(count: number, now: number): boolean {
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs);
      this.updatedAt = now;
    }
    if (this.tokens < Math.min(count, this.burst)) return false;
    this.tokens -= count;
    return true;
  }
}

/**
 * Buckets by key, at most `capacity` of them: the least recently used is forgotten first
 * (a Map keeps insertion order; a key is moved to the end when used).
 */
export class BucketTable {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: Required<RateLimit>,
    private readonly capacity: number,
  ) {}

  /** Spend `count` tokens of `key`'s bucket at `now`. */
  take(key: string, count: number, now: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = TokenBucket.of(this.rate, now);
      if (this.buckets.size >= this.capacity) this.buckets.delete(this.buckets.keys().next().value!);
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    return bucket.take(count, now);
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.buckets.size;
  }
}

/** Check `value` is a number in [min, max] (integer when asked), naming the option. */
export function checkNumber(
  option: string,
  value: unknown,
  {
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
    integer = false,
  }: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${option} must be a number`);
  if (value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `${option} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${value}`,
    );
  }
  return value;
}

/** Validate a {@link RateLimit} and fill in its burst. */
export function checkRate(option: string, rate: RateLimit | undefined): Required<RateLimit> | null {
  if (rate === undefined) return null;
  if (typeof rate !== 'object' || rate === null)
    throw new TypeError(`${option} must be { perSecond, burst? }`);
  const perSecond = checkNumber(`${option}.perSecond`, rate.perSecond, { min: Number.MIN_VALUE });
  const burst = checkNumber(`${option}.burst`, rate.burst ?? Math.max(1, perSecond), { min: 1 });
  return { perSecond, burst };
}

/**
 * The connection caps of a server: decides at the upgrade, and counts admitted
 * connections by address group until they are released.
 * @internal
 */
export class ConnectionGate {
  private readonly maxConnections: number;
  private readonly maxPerAddress: number;
  private readonly ipv6Prefix: number;
  private readonly retryAfter: string;
  private readonly handshakes: BucketTable | null;
  private readonly perAddress = new Map<string, number>();
  private admitted = 0;

  constructor(options: ConnectionLimitOptions) {
    const name = 'connectionLimits';
    this.maxConnections =
      options.maxConnections === undefined
        ? Number.POSITIVE_INFINITY
        : checkNumber(`${name}.maxConnections`, options.maxConnections, { integer: true });
    this.maxPerAddress =
      options.maxConnectionsPerAddress === undefined
        ? Number.POSITIVE_INFINITY
        : checkNumber(`${name}.maxConnectionsPerAddress`, options.maxConnectionsPerAddress, {
            integer: true,
          });
    this.ipv6Prefix = checkNumber(`${name}.ipv6Prefix`, options.ipv6Prefix ?? 64, {
      max: 128,
      integer: true,
    });
    this.retryAfter = String(checkNumber(`${name}.retryAfter`, options.retryAfter ?? 5, { integer: true }));
    const rate = checkRate(`${name}.handshakeRate`, options.handshakeRate);
    const capacity = checkNumber(
      `${name}.maxTrackedAddresses`,
      options.maxTrackedAddresses ?? DEFAULT_MAX_TRACKED_ADDRESSES,
      { min: 1, integer: true },
    );
    this.handshakes = rate === null ? null : new BucketTable(rate, capacity);
  }

  /** The group `address` is counted in. */
  group(address: string): string {
    return addressGroup(address, this.ipv6Prefix);
  }

  /**
   * Admit a handshake from `group` at `now`, or say which limit refuses it (the handshake
   * rate first: a refused handshake spends a token too, so hammering does not help).
   */
  admit(group: string, now: number): LimitKind | null {
    if (this.handshakes !== null && !this.handshakes.take(group, 1, now)) return 'handshake-rate';
    if (this.admitted >= this.maxConnections) return 'max-connections';
    const count = this.perAddress.get(group) ?? 0;
    if (count >= this.maxPerAddress) return 'max-connections-per-address';
    this.perAddress.set(group, count + 1);
    this.admitted++;
    return null;
  }

  /** A connection admitted for `group` is gone (handshake failed, or its socket closed). */
  release(group: string): void {
    const count = this.perAddress.get(group);
    if (count === undefined) return;
    this.admitted--;
    if (count <= 1) this.perAddress.delete(group);
    else this.perAddress.set(group, count - 1);
  }

  /** The refusal to answer for `kind`: 503 for the global cap, 429 otherwise, with `Retry-After`. */
  refusal(kind: LimitKind): HandshakeError {
    const headers = { 'Retry-After': this.retryAfter };
    if (kind === 'max-connections') return new HandshakeError(503, 'too many connections', headers);
    if (kind === 'max-connections-per-address') {
      return new HandshakeError(429, 'too many connections from this address', headers);
    }
    return new HandshakeError(429, 'too many handshakes from this address', headers);
  }

  /** Admitted connections (diagnostic). */
  get size(): number {
    return this.admitted;
  }

  /** Address groups with a connection (diagnostic). */
  get addresses(): number {
    return this.perAddress.size;
  }
}

/**
 * The per-connection state of message limits, lifetime and idle timeout. Only a
 * connection of a server with one of these configured has one: without, the receive path
 * tests one field and does nothing more.
 * @internal
 */
export class ConnectionOps {
  /** When the connection must close for its lifetime (ms), or 0. */
  expiresAt = 0;
  /** When the last message arrived (ms), for the idle timeout. */
  lastMessageAt: number;
  private readonly messages: TokenBucket | null;
  private readonly bytes: TokenBucket | null;

  constructor(settings: OpsSettings, now: number) {
    this.lastMessageAt = now;
    this.messages = settings.messageRate === null ? null : TokenBucket.of(settings.messageRate, now);
    this.bytes = settings.byteRate === null ? null : TokenBucket.of(settings.byteRate, now);
    if (settings.maxLifetime > 0) {
      // Jitter spreads the expiry of connections opened together (after a deploy, say).
      this.expiresAt = now + settings.maxLifetime - Math.random() * settings.lifetimeJitter;
    }
  }

  /** A message of `size` bytes arrived at `now`: which rate it breaks, or null. */
  check(size: number, now: number): LimitKind | null {
    this.lastMessageAt = now;
    if (this.messages !== null && !this.messages.take(1, now)) return 'message-rate';
    if (this.bytes !== null && !this.bytes.take(size, now)) return 'byte-rate';
    return null;
  }
}

/** A server's validated settings for {@link ConnectionOps}. @internal */
export interface OpsSettings {
  readonly messageRate: Required<RateLimit> | null;
  readonly byteRate: Required<RateLimit> | null;
  readonly policy: MessageLimitPolicy;
  readonly maxLifetime: number;
  readonly lifetimeJitter: number;
  readonly idleTimeout: number;
}

/** Validate the per-connection options; null when none is set (connections get no {@link ConnectionOps}). @internal */
export function opsSettings(options: {
  messageLimits?: MessageLimitOptions | undefined;
  maxLifetime?: number | undefined;
  lifetimeJitter?: number | undefined;
  idleTimeout?: number | undefined;
}): OpsSettings | null {
  const limits = options.messageLimits ?? {};
  const messageRate = checkRate('messageLimits.messages', limits.messages);
  const byteRate = checkRate('messageLimits.bytes', limits.bytes);
  const policy = limits.policy ?? 'close';
  if (policy !== 'close' && policy !== 'drop') {
    throw new TypeError(`messageLimits.policy must be 'close' or 'drop', not ${JSON.stringify(policy)}`);
  }
  const maxLifetime = checkNumber('maxLifetime', options.maxLifetime ?? 0);
  const lifetimeJitter = checkNumber('lifetimeJitter', options.lifetimeJitter ?? maxLifetime / 10, {
    max: maxLifetime,
  });
  const idleTimeout = checkNumber('idleTimeout', options.idleTimeout ?? 0);
  if (messageRate === null && byteRate === null && maxLifetime === 0 && idleTimeout === 0) return null;
  return { messageRate, byteRate, policy, maxLifetime, lifetimeJitter, idleTimeout };
}
