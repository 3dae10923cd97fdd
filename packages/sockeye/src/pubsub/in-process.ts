import { randomUUID } from 'node:crypto';
import {
  type Broker,
  BrokerError,
  type BrokerHandler,
  type BrokerLoss,
  type BrokerMessage,
  type BrokerStatus,
  isValidNodeId,
  MAX_NODE_ID_LENGTH,
} from './broker.js';
import { SequenceCounter } from './sequence.js';
import { checkTopicWellFormed } from './topics.js';

/** The routing state of a hub, kept out of its public surface. */
interface HubState {
  /** Every open broker of the hub, by node id. */
  readonly nodes: Map<string, InProcessBroker>;
  /** The brokers subscribed to each topic. */
  readonly subscribers: Map<string, Set<InProcessBroker>>;
}

const hubStates = new WeakMap<InProcessHub, HubState>();

function stateOf(hub: InProcessHub): HubState {
  // Every hub registers its state in its constructor.
  return hubStates.get(hub)!;
}

/**
 * What several {@link InProcessBroker}s in one process share: publishes on one reach the
 * others. Give one hub to every server that should behave as one application (tests,
 * several ports in one process); a broker made without a hub gets a hub of its own and
 * so is a lone node, which is what a single server needs.
 */
export class InProcessHub {
  constructor() {
    hubStates.set(this, { nodes: new Map(), subscribers: new Map() });
  }

  /** The node ids of the open brokers on this hub. */
  get nodeIds(): string[] {
    return [...stateOf(this).nodes.keys()];
  }

  /** How many nodes are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return stateOf(this).subscribers.get(topic)?.size ?? 0;
  }
}

/** Options of {@link InProcessBroker}. */
export interface InProcessBrokerOptions {
  /**
   * The hub to join; brokers on the same hub exchange publishes.
   * @defaultValue a new hub of its own (a lone node: publishes go nowhere else)
   */
  hub?: InProcessHub;
  /**
   * This node's id, unique on the hub (see {@link isValidNodeId}).
   * @defaultValue a random UUID
   */
  nodeId?: string;
}

const NO_HANDLER: BrokerHandler = { onMessage() {} };

/**
 * The default {@link Broker}: carries publishes between servers in one process, through
 * an {@link InProcessHub}. Nothing to install and nothing to lose: every publish reaches
 * every other subscribed node of the hub, in order, exactly once. Delivery happens in a
 * microtask after `publish()` returns (never inside it), so a handler may publish back.
 * The payload is copied once per publish and shared by every receiving node.
 */
export class InProcessBroker implements Broker {
  readonly nodeId: string;
  /** The hub this broker belongs to. */
  readonly hub: InProcessHub;
  private readonly subscribed = new Set<string>();
  private readonly sequences = new SequenceCounter();
  private handler: BrokerHandler = NO_HANDLER;
  private attached = false;
  private closed = false;

  /**
   * @throws {@link BrokerError} of kind `'config'` when `nodeId` is invalid or already on
   * the hub; TypeError when `hub` is not an {@link InProcessHub} or `nodeId` not a string
   */
  constructor(options: InProcessBrokerOptions = {}) {
    if (options.hub !== undefined && !(options.hub instanceof InProcessHub)) {
      throw new TypeError('hub must be an InProcessHub');
    }
    if (options.nodeId !== undefined && typeof options.nodeId !== 'string') {
      throw new TypeError(`nodeId must be a string, not a ${typeof options.nodeId}`);
    }
    this.hub = options.hub ?? new InProcessHub();
    this.nodeId = options.nodeId ?? randomUUID();
    if (!isValidNodeId(this.nodeId)) {
      throw new BrokerError(
        'config',
        `invalid node id ${JSON.stringify(this.nodeId)}: 1 to ${MAX_NODE_ID_LENGTH} characters of A-Z a-z 0-9 . _ : -`,
      );
    }
    const { nodes } = stateOf(this.hub);
    if (nodes.has(this.nodeId)) {
      throw new BrokerError('config', `node id ${this.nodeId} is already on this hub`);
    }
    nodes.set(this.nodeId, this);
  }

  get status(): BrokerStatus {
    return this.closed ? 'closed' : 'up';
  }

  get topics(): ReadonlySet<string> {
    return this.subscribed;
  }

  attach(handler: BrokerHandler): void {
    if (this.attached)
      throw new BrokerError('config', 'a broker serves one server: a handler is already attached');
    this.attached = true;
    this.handler = handler;
  }

  /** Resolves at once: an in-process broker is up from the start until it is closed. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(topic: string): Promise<void> {
    checkTopicWellFormed(topic);
    if (!this.closed && !this.subscribed.has(topic)) {
      this.subscribed.add(topic);
      const { subscribers } = stateOf(this.hub);
      let nodes = subscribers.get(topic);
      if (nodes === undefined) {
        nodes = new Set();
        subscribers.set(topic, nodes);
      }
      nodes.add(this);
    }
    return Promise.resolve();
  }

  unsubscribe(topic: string): Promise<void> {
    if (this.subscribed.delete(topic)) this.leaveTopic(topic);
    return Promise.resolve();
  }

  publish(topic: string, data: Uint8Array, isBinary: boolean): void {
    checkTopicWellFormed(topic);
    if (this.closed) {
      const loss: BrokerLoss = { reason: 'closed', topic, publisher: this.nodeId, count: 1 };
      // The one callback a closed broker still makes: a publish must never vanish silently.
      queueMicrotask(() => this.callSafely(() => this.handler.onLost?.(loss)));
      return;
    }
    const nodes = stateOf(this.hub).subscribers.get(topic);
    if (nodes === undefined) return;
    const targets: InProcessBroker[] = [];
    for (const node of nodes) if (node !== this) targets.push(node);
    if (targets.length === 0) return;
    const message: BrokerMessage = {
      topic,
      data: Buffer.from(data), // a copy: the caller may reuse its buffer once we return
      isBinary,
      publisher: this.nodeId,
      sequence: this.sequences.next(topic),
    };
    queueMicrotask(() => {
      for (const target of targets) target.deliver(message);
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const topic of this.subscribed) this.leaveTopic(topic);
      this.subscribed.clear();
      stateOf(this.hub).nodes.delete(this.nodeId);
    }
    return Promise.resolve();
  }

  /** Hand a message from another node to the handler, unless we left the topic since. */
  private deliver(message: BrokerMessage): void {
    if (this.closed || !this.subscribed.has(message.topic)) return;
    this.callSafely(() => this.handler.onMessage(message));
  }

  private leaveTopic(topic: string): void {
    const { subscribers } = stateOf(this.hub);
    const nodes = subscribers.get(topic);
    if (nodes === undefined) return;
    nodes.delete(this);
    if (nodes.size === 0) subscribers.delete(topic);
  }

  /**
   * Run a handler callback; if it throws, report that to `onError` (kind `'handler'`). If
   * `onError` throws as well, the error becomes a process warning: a broker must not die
   * of its handler, and nothing may vanish silently.
   */
  private callSafely(callback: () => void): void {
    try {
      callback();
    } catch (cause) {
      const error = new BrokerError('handler', `a broker handler callback threw: ${String(cause)}`, {
        cause,
      });
      try {
        this.handler.onError?.(error);
      } catch (second) {
        process.emitWarning(`sockeye broker ${this.nodeId}: onError threw: ${String(second)}`);
      }
    }
  }
}
