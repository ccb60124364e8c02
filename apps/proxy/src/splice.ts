/**
 * `splice`: joins two TCP streams (a tailnet `TcpSocket` and a `net.Socket`, in either order) so
 * bytes flow both ways with backpressure, and whatever happens to one connection happens to the
 * other:
 *
 * - half-close: a FIN read on one side is a FIN written on the other (`end()`), and the other
 *   direction keeps flowing until its own FIN (both sockets are made `allowHalfOpen`);
 * - errors: a side that fails (refused, reset, timed out) resets the other (`resetAndDestroy()`,
 *   an RST, so the peer sees ECONNRESET rather than a clean end that would hide the failure);
 * - close: a side destroyed before both directions finished destroys the other the same way.
 *
 * The promise resolves once both sockets have closed, with the bytes moved each way and the first
 * error, if any. It never rejects.
 */
import type { Duplex } from 'node:stream';

/** How a spliced pair ended. */
export interface SpliceResult {
  /** Bytes read from `a` (and written to `b`). */
  readonly aToB: number;
  /** Bytes read from `b` (and written to `a`). */
  readonly bToA: number;
  /** The first error either side reported, or undefined for a clean close of both directions. */
  readonly error: Error | undefined;
}

/** Live byte counts of a spliced pair, for stats while it runs. */
export interface SpliceProgress {
  /** Called with every chunk read from `a`. */
  onAToB?: (bytes: number) => void;
  /** Called with every chunk read from `b`. */
  onBToA?: (bytes: number) => void;
}

/** A Duplex that may reset its connection (`net.Socket` and netstack's `TcpSocket` both can). */
type Resettable = Duplex & { resetAndDestroy?: () => unknown };

/** Ends a connection with an RST when the socket can, else destroys it. */
export function abortSocket(s: Duplex): void {
  if (s.destroyed) return;
  const r = s as Resettable;
  if (typeof r.resetAndDestroy === 'function') {
    try {
      r.resetAndDestroy();
      return;
    } catch {
      // A net.Socket without a TCP handle refuses a reset; destroying it is all that is left.
    }
  }
  s.destroy();
}

/** True once a socket has both read the peer's FIN and finished writing its own. */
function finishedCleanly(s: Duplex): boolean {
  return s.readableEnded && s.writableFinished;
}

/**
 * Joins `a` and `b` both ways until both close (see the file header for what propagates).
 *
 * @example
 * ```ts
 * const local = net.connect({ host: '127.0.0.1', port: 3000, allowHalfOpen: true });
 * const { aToB, bToA, error } = await splice(tailnetSocket, local);
 * ```
 */
export function splice(a: Duplex, b: Duplex, progress: SpliceProgress = {}): Promise<SpliceResult> {
  // A FIN from one peer must not end our writes to it: the other direction may still be sending.
  a.allowHalfOpen = true;
  b.allowHalfOpen = true;
  let aToB = 0;
  let bToA = 0;
  let error: Error | undefined;
  const closed = (s: Duplex) =>
    s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()));
  const wire = (from: Duplex, to: Duplex, count: (n: number) => void) => {
    from.on('data', (chunk: Uint8Array) => count(chunk.byteLength));
    from.on('error', (err: Error) => {
      error ??= err;
      abortSocket(to);
    });
    from.once('close', () => {
      if (!finishedCleanly(from)) abortSocket(to);
    });
    // pipe: backpressure both ways, and `to.end()` when `from` ends (the half-close).
    from.pipe(to);
  };
  wire(a, b, (n) => {
    aToB += n;
    progress.onAToB?.(n);
  });
  wire(b, a, (n) => {
    bToA += n;
    progress.onBToA?.(n);
  });
  return Promise.all([closed(a), closed(b)]).then(() => ({ aToB, bToA, error }));
}
