import { describe, expect, it } from 'vitest';
import { ClientStreams } from '../../../src/gateway/client-streams.ts';

describe('ClientStreams', () => {
  it('bounds connections and subscriptions per client, each client on its own, and gives slots back once', () => {
    const streams = new ClientStreams({ connectionsPerClient: 2, subscriptionsPerClient: 1 });
    const a1 = streams.openConnection('a');
    streams.openConnection('a');
    expect(() => streams.openConnection('a')).toThrow(expect.objectContaining({ code: 'TOO_MANY_CONNECTIONS', details: { maxConnections: 2 } }));
    expect(() => streams.openConnection('b')).not.toThrow();
    const sub = streams.startSubscription('a');
    expect(() => streams.startSubscription('a')).toThrow(expect.objectContaining({ code: 'TOO_MANY_SUBSCRIPTIONS', details: { maxSubscriptions: 1 } }));
    a1();
    a1();
    sub();
    expect(streams.held('a')).toEqual({ connections: 1, subscriptions: 0 });
    expect(() => streams.startSubscription('a')).not.toThrow();
  });
});
