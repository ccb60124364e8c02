/**
 * TEST ONLY: an in-process control server speaking ts2021 on 127.0.0.1, enough to test the client
 * without headscale: `/key`, the `/ts2021` HTTP upgrade and WebSocket, an optional early payload
 * (as headscale sends), HTTP/2 over Noise, and pluggable `/machine/register` and `/machine/map`
 * handlers. Built from the wire facts in protocol-map.md §2–§4, independently of src/ where it can
 * be (the Noise responder is test/noise-responder.ts; records reuse src's sealer/opener, which the
 * upstream transcript in test/vectors checks on their own).
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { MachinePrivate, MachinePublic, parseBase64 } from '@tsnet/core';
import { NoiseConn } from '../src/ts2021/conn.js';
import { WebSocketStream } from '../src/ts2021/websocket.js';
import { respond } from './noise-responder.js';

export interface RequestCtx {
  machinePublic: MachinePublic;
  version: number;
}

export interface MapWriter {
  /** Writes one framed message: 4-byte little-endian length ‖ JSON. */
  send(msg: unknown): void;
  /** Writes raw bytes (for malformed-frame tests). */
  raw(bytes: Uint8Array): void;
  end(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export interface FakeControlOptions {
  earlyPayload?: boolean;
  /** Connections below this protocol version are closed after the handshake, as headscale does. */
  minVersion?: number;
  /** If set, the handshake is refused with this unauthenticated error message. */
  handshakeError?: string;
  register?: (body: Record<string, unknown>, ctx: RequestCtx) => unknown | Promise<unknown>;
  map?: (body: Record<string, unknown>, ctx: RequestCtx, w: MapWriter) => void | Promise<void>;
  /** Other paths: return [status, body]. */
  other?: (method: string, path: string, ctx: RequestCtx) => [number, string];
}

export interface FakeControl {
  url: string;
  controlKey: MachinePrivate;
  connections: number;
  /** Sockets currently open to the server. */
  liveSockets(): number;
  /** Destroys every live Noise connection (simulates a server restart for the client). */
  dropConnections(): void;
  close(): Promise<void>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function encodeMapFrame(msg: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(msg));
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32LE(json.length, 0);
  return Buffer.concat([hdr, json]);
}

export async function startFakeControl(opts: FakeControlOptions = {}): Promise<FakeControl> {
  const controlKey = MachinePrivate.generate();
  const sockets = new Set<Duplex>();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/key') {
      if (!u.searchParams.get('v')) {
        res.writeHead(400).end('capability version must be set');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ legacyPublicKey: MachinePublic.zero(), publicKey: controlKey.public() }));
      return;
    }
    res.writeHead(404).end('not found');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const fake: FakeControl = {
    url: '',
    controlKey,
    connections: 0,
    liveSockets: () => sockets.size,
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/ts2021') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    let inner: Duplex;
    let initB64: string | null;
    if (upgrade === 'websocket') {
      initB64 = u.searchParams.get('X-Tailscale-Handshake');
      const key = String(req.headers['sec-websocket-key'] ?? '');
      const accept = createHash('sha1')
        .update(key + WS_GUID)
        .digest('base64');
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: tailscale-control-protocol\r\n\r\n`,
      );
      inner = new WebSocketStream(socket, new Uint8Array(head), 'server');
    } else if (upgrade === 'tailscale-control-protocol') {
      initB64 = (req.headers['x-tailscale-handshake'] as string | undefined) ?? null;
      if (!initB64) {
        socket.end(
          'HTTP/1.1 400 Bad Request\r\nContent-Length: 35\r\n\r\nmissing Tailscale handshake header\n',
        );
        return;
      }
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n',
      );
      inner = socket;
    } else {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 22\r\n\r\nunknown next protocol\n');
      return;
    }
    const init = initB64 ? parseBase64(initB64) : null;
    if (opts.handshakeError !== undefined || init === null) {
      const msg = Buffer.from(opts.handshakeError ?? 'bad handshake');
      const hdr = Buffer.from([3, msg.length >> 8, msg.length & 0xff]);
      inner.end(Buffer.concat([hdr, msg]));
      return;
    }
    const r = respond(controlKey.raw, init);
    if (typeof r === 'string') {
      const msg = Buffer.from(r);
      inner.end(Buffer.concat([Buffer.from([3, msg.length >> 8, msg.length & 0xff]), msg]));
      return;
    }
    if (opts.minVersion !== undefined && r.version < opts.minVersion) {
      inner.destroy(); // headscale: earlyNoise fails, the corked response is never sent
      return;
    }
    inner.write(r.response);
    const conn = new NoiseConn(inner, { keys: r.keys, stripEarlyPayload: false });
    conn.on('error', () => {});
    if (opts.earlyPayload) {
      const json = Buffer.from(JSON.stringify({ nodeKeyChallenge: `chalpub:${'ab'.repeat(32)}` }));
      const hdr = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53, 0, 0, 0, 0]);
      hdr.writeUInt32BE(json.length, 5);
      conn.write(Buffer.concat([hdr, json]));
    }
    fake.connections++;
    const ctx: RequestCtx = { machinePublic: MachinePublic.fromBytes(r.machinePublic), version: r.version };
    serveH2(conn, ctx, opts);
  });

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function serveH2(conn: NoiseConn, ctx: RequestCtx, opts: FakeControlOptions): void {
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    const method = String(headers[':method']);
    const path = String(headers[':path']);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      try {
        if (path === '/machine/register' && opts.register) {
          const out = await opts.register(body, ctx);
          if (stream.destroyed) return;
          if (Array.isArray(out)) {
            stream.respond({ ':status': out[0] as number, ...((out[2] as Record<string, string>) ?? {}) });
            stream.end(String(out[1]));
          } else {
            stream.respond({ ':status': 200, 'content-type': 'application/json' });
            stream.end(JSON.stringify(out));
          }
          return;
        }
        if (path === '/machine/map' && opts.map) {
          stream.respond({ ':status': 200 });
          let closed = false;
          const closers: Array<() => void> = [];
          stream.on('close', () => {
            closed = true;
            for (const f of closers) f();
          });
          const w: MapWriter = {
            send: (m) => {
              if (!closed) stream.write(encodeMapFrame(m));
            },
            raw: (b) => {
              if (!closed) stream.write(b);
            },
            end: () => {
              if (!closed) stream.end();
            },
            get closed() {
              return closed;
            },
            onClose: (f) => closers.push(f),
          };
          await opts.map(body, ctx, w);
          return;
        }
        const [status, out] = opts.other?.(method, path, ctx) ?? [404, 'not found'];
        stream.respond({ ':status': status });
        stream.end(out);
      } catch (e) {
        if (!stream.destroyed) {
          stream.respond({ ':status': 500 });
          stream.end(String(e));
        }
      }
    });
  });
  h2.on('sessionError', () => {});
  h2.emit('connection', conn);
  conn.on('close', () => h2.close());
}
