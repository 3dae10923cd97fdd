/**
 * A {@link Broker} around the server's real one (in-process, or Redis) that lets the
 * chat service itself listen to some topics across nodes, beside its WebSocket
 * subscribers: the room's roster lives in the servers, not in the sockets, so each
 * server must see the other servers' join and leave notices even while none of its own
 * sockets is in the room.
 *
 * A topic the service {@link RoomBroker.pin}s stays subscribed on the real broker
 * whatever the server's sockets do (the real broker does not count subscriptions, so the
 * server's last unsubscribe would otherwise end it). Messages on a pinned topic go to the
 * service's observer; messages on topics the server subscribed go to the server, as usual.
 */
import type { Broker, BrokerHandler, BrokerMessage, BrokerStatus } from '@sockeye/sockeye/pubsub';

/** What the service hears. */
export interface RoomObserver {
  /** A message from another node on a pinned topic. */
  message(message: BrokerMessage): void;
  /** The real broker's status changed (after `down`, messages may have been missed). */
  status(status: BrokerStatus): void;
}

/** See the module comment. */
export class RoomBroker implements Broker {
  private readonly pinned = new Set<string>();
  /** Topics the server subscribed (its sockets are in them). */
  private readonly serverTopics = new Set<string>();
  private observer: RoomObserver | null = null;

  constructor(private readonly inner: Broker) {}

  get nodeId(): string {
    return this.inner.nodeId;
  }

  get status(): BrokerStatus {
    return this.inner.status;
  }

  get topics(): ReadonlySet<string> {
    return this.inner.topics;
  }

  /** Listen to the pinned topics (one observer). */
  observe(observer: RoomObserver): void {
    this.observer = observer;
  }

  /** Keep `topic` subscribed for the observer; resolves once its messages arrive here. */
  pin(topic: string): Promise<void> {
    this.pinned.add(topic);
    return this.inner.subscribe(topic);
  }

  attach(handler: BrokerHandler): void {
    this.inner.attach({
      onMessage: (message) => {
        if (this.pinned.has(message.topic)) this.observer?.message(message);
        if (this.serverTopics.has(message.topic)) handler.onMessage(message);
      },
      onLost: (loss) => handler.onLost?.(loss),
      onError: (error) => handler.onError?.(error),
      onStatus: (status) => {
        this.observer?.status(status);
        handler.onStatus?.(status);
      },
    });
  }

  ready(): Promise<void> {
    return this.inner.ready();
  }

  subscribe(topic: string): Promise<void> {
    this.serverTopics.add(topic);
    return this.inner.subscribe(topic);
  }

  unsubscribe(topic: string): Promise<void> {
    this.serverTopics.delete(topic);
    return this.pinned.has(topic) ? Promise.resolve() : this.inner.unsubscribe(topic);
  }

  publish(topic: string, data: Uint8Array, isBinary: boolean): void {
    this.inner.publish(topic, data, isBinary);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
