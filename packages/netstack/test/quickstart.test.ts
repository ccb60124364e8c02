/** The README quick start, on the real clock, kept compiling and passing. */
import { expect, it } from 'vitest';
import { createPipe, Stack } from '../src/index.js';

it('README quick start: TCP over an in-memory link', async () => {
  // Two stacks joined by an in-memory link (any LinkEndpoint works: a TUN, a WireGuard tunnel...).
  const { a, b } = createPipe({ mtu: 1280 });
  const server = new Stack({ link: a, addresses: ['10.0.0.1', 'fd00::1'] });
  const client = new Stack({ link: b, addresses: ['10.0.0.2', 'fd00::2'] });

  // A listener delivers net.Socket-like Duplex streams.
  server.listen({ port: 7 }, (socket) => socket.pipe(socket)); // echo

  // connect() returns the socket at once, like net.connect.
  const socket = client.connect({ host: '10.0.0.1', port: 7 });
  socket.end('hello over netstack');
  let reply = '';
  for await (const chunk of socket) reply += chunk;

  expect(reply).toBe('hello over netstack');
  server.close();
  client.close();
});
