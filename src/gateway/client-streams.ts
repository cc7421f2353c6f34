import { ErrorCode, ServiceError } from '../errors.ts';

/**
 * Counts what each client (keyed by IP address) holds open on the streaming transports, and refuses what would go
 * over its bounds when it is asked for: a connection when it opens, a subscription when it starts. Each grant
 * returns its release function, which is safe to call more than once.
 */
export class ClientStreams {
  private readonly connections = new Map<string, number>();
  private readonly subscriptions = new Map<string, number>();

  constructor(private readonly limits: { connectionsPerClient: number; subscriptionsPerClient: number }) {}

  /** Throws TOO_MANY_CONNECTIONS when the client is at its bound. */
  openConnection(client: string): () => void {
    const max = this.limits.connectionsPerClient;
    return take(this.connections, client, max, () => new ServiceError(ErrorCode.TOO_MANY_CONNECTIONS, `This client already holds the most streaming connections this server allows (${max}); close one first`, { details: { maxConnections: max } }));
  }

  /** Throws TOO_MANY_SUBSCRIPTIONS when the client is at its bound. */
  startSubscription(client: string): () => void {
    const max = this.limits.subscriptionsPerClient;
    return take(this.subscriptions, client, max, () => new ServiceError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `This client already runs the most subscriptions this server allows (${max}); end one first`, { details: { maxSubscriptions: max } }));
  }

  /** Open connections and running subscriptions of one client (for tests and diagnostics). */
  held(client: string): { connections: number; subscriptions: number } {
    return { connections: this.connections.get(client) ?? 0, subscriptions: this.subscriptions.get(client) ?? 0 };
  }
}

// Private.
function take(counts: Map<string, number>, client: string, max: number, refusal: () => ServiceError): () => void {
  const held = counts.get(client) ?? 0;
  if (held >= max) throw refusal();
  counts.set(client, held + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (counts.get(client) ?? 1) - 1;
    if (left <= 0) counts.delete(client);
    else counts.set(client, left);
  };
}
