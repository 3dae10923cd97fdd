/**
 * The broker a {@link SessionServer} gives its `WebSocketServer`: the application's
 * broker, with the messages other processes publish also handed to this process's
 * sessions. A topic stays subscribed on the real broker while either the server's plain
 * connections or its sessions are in it.
 * @module
 */
import type { Broker, BrokerHandler, BrokerMessage, BrokerStatus } from '../pubsub/broker.js';

/** @internal Wraps a broker for one session server. */
export class SessionBrokerTee implements Broker {
  /** Topics the WebSocketServer's registry subscribed (its plain connections). */
  private readonly serverTopics = new Set<string>();
  /** Topics this process's sessions are in. */
  private readonly sessionTopics = new Set<string>();

  /**
   * @param inner - the application's broker
   * @param deliver - hands a message from another process to the sessions in its topic
   */
  constructor(
    private readonly inner: Broker,
    private readonly deliver: (message: BrokerMessage) => void,
  ) {}

  get nodeId(): string {
    return this.inner.nodeId;
  }
  get status(): BrokerStatus {
    return this.inner.status;
  }
  get topics(): ReadonlySet<string> {
    return this.inner.topics;
  }

  attach(handler: BrokerHandler): void {
    this.inner.attach({
      ...handler,
      onMessage: (message) => {
        if (this.serverTopics.has(message.topic)) handler.onMessage(message);
        if (this.sessionTopics.has(message.topic)) this.deliver(message);
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
    return this.sessionTopics.has(topic) ? Promise.resolve() : this.inner.unsubscribe(topic);
  }

  /** The first session of this process joined `topic`. */
  subscribeSessions(topic: string): Promise<void> {
    this.sessionTopics.add(topic);
    return this.inner.subscribe(topic);
  }

  /** The last session of this process left `topic`. */
  unsubscribeSessions(topic: string): Promise<void> {
    this.sessionTopics.delete(topic);
    return this.serverTopics.has(topic) ? Promise.resolve() : this.inner.unsubscribe(topic);
  }

  publish(topic: string, data: Uint8Array, isBinary: boolean): void {
    this.inner.publish(topic, data, isBinary);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
