// A minimal SOCKS5 client (no auth, CONNECT) and an HTTP/1.0 GET over it: how tests reach into the
// tailnet through tailscaled's --socks5-server.
import { isIP, type Socket, connect as tcpConnect } from 'node:net';

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Opens a TCP stream to host:port through the SOCKS5 proxy at 127.0.0.1:proxyPort. The socket comes
 * back paused: attach a 'data' listener and call resume(), or pipe() it.
 */
export function socks5Connect(
  proxyPort: number,
  host: string,
  port: number,
  timeoutMs = 10_000,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect(proxyPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'connect' = 'greeting';
    const timer = setTimeout(() => fail(new Error(`SOCKS5 connect to ${host}:${port} timed out`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    sock.once('error', fail);
    sock.once('connect', () => sock.write(Buffer.from([5, 1, 0])));
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 'greeting') {
        if (buf.length < 2) return;
        if (buf[0] !== 5 || buf[1] !== 0) return fail(new Error('SOCKS5: the proxy refused no-auth'));
        buf = buf.subarray(2);
        stage = 'connect';
        const v = isIP(host);
        let addr: Buffer;
        if (v === 4) addr = Buffer.from([1, ...host.split('.').map(Number)]);
        else if (v === 6) addr = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)]);
        else addr = Buffer.concat([Buffer.from([3, Buffer.byteLength(host)]), Buffer.from(host)]);
        const p = Buffer.from([port >> 8, port & 0xff]);
        sock.write(Buffer.concat([Buffer.from([5, 1, 0]), addr, p]));
      }
      if (stage === 'connect') {
        if (buf.length < 5) return;
        if (buf[1] !== 0)
          return fail(new Error(`SOCKS5: CONNECT ${host}:${port} failed, reply code ${buf[1]}`));
        const atyp = buf[3];
        const len = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + (buf[4] ?? 0);
        if (buf.length < 4 + len + 2) return;
        const rest = buf.subarray(4 + len + 2);
        // Removing our listener does not stop the flow: pause, or data would be emitted to no one
        // before the caller attaches its own listener.
        sock.pause();
        sock.off('data', onData);
        sock.off('error', fail);
        clearTimeout(timer);
        if (rest.length > 0) sock.unshift(rest);
        resolve(sock);
      }
    };
    sock.on('data', onData);
  });
}

function ipv6Bytes(s: string): Buffer {
  const [head = '', tail = ''] = s.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = s.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = s.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const b = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) b.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return b;
}

/**
 * Sends `data` over a fresh SOCKS5 stream and returns what comes back: up to `expectBytes` if given
 * (then the stream is closed by us), else until the far end closes. No half-close: tailscaled's SOCKS5
 * server tears the whole stream down when the client shuts its writing side.
 */
export async function socks5Exchange(
  proxyPort: number,
  host: string,
  port: number,
  data: Uint8Array | string,
  opts: { expectBytes?: number; timeoutMs?: number } = {},
): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const sock = await socks5Connect(proxyPort, host, port, timeoutMs);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${host}:${port}: ${n} bytes and no end of stream within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (opts.expectBytes !== undefined && n >= opts.expectBytes) sock.destroy();
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    sock.resume();
    sock.write(data);
  });
}

/** GET http://host:port/path through the SOCKS5 proxy (HTTP/1.0, so no chunked body). */
export async function socks5HttpGet(
  proxyPort: number,
  url: string,
  timeoutMs = 10_000,
): Promise<HttpResponse> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 80);
  const req = `GET ${u.pathname}${u.search} HTTP/1.0\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`;
  const raw = (await socks5Exchange(proxyPort, host, port, req, { timeoutMs })).toString('utf8');
  const sep = raw.indexOf('\r\n\r\n');
  if (sep < 0) throw new Error(`not an HTTP response from ${url}: ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = '', ...headerLines] = raw.slice(0, sep).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of headerLines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: raw.slice(sep + 4) };
}
