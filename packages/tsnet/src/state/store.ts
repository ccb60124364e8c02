/**
 * State stores: where a node keeps its machine key, node key and profile between runs.
 *
 * The interface is Go's `ipn.StateStore` in Node's shape: `get(key)` (undefined when absent) and
 * `set(key, value)`, either of which may be synchronous or return a promise, so a user's own store
 * (a database row, a secret manager, a Kubernetes secret) is an object with two methods.
 *
 * `FileStore` writes the same file as Go's `ipn/store.FileStore` (`tailscaled.state`): the whole
 * `map[StateKey][]byte` as indented JSON, so every value is a base64 string. A Go tsnet state
 * directory therefore opens here and the other way round (see `profile.ts` for the keys). Every
 * write goes to a temporary file in the same directory with mode 0600, is flushed to disk, and is
 * renamed over the old file: a crash (even `kill -9`) mid-write leaves the old state or the new,
 * never a torn file.
 */
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsnetError } from '@tsnet/core';

/** A place to keep a node's state (Go's `ipn.StateStore`). Values are opaque bytes. */
export interface StateStore {
  /** The value stored under `key`, or `undefined` if there is none. */
  get(key: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Stores `value` under `key`, replacing what was there. Durable when it returns/resolves. */
  set(key: string, value: Uint8Array): void | Promise<void>;
}

/** State that could not be read or written: the message names the store and what went wrong. */
export class StateStoreError extends TsnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STATE_STORE', message, options);
  }
}

/**
 * State in memory only: gone when the process exits. As in Go, only ephemeral nodes may use it
 * (a non-ephemeral node would register anew on every start and leave a stale node behind).
 */
export class MemoryStore implements StateStore {
  readonly #map = new Map<string, Uint8Array>();

  /** The value under `key` (a copy), or undefined. */
  get(key: string): Uint8Array | undefined {
    const v = this.#map.get(key);
    return v === undefined ? undefined : v.slice();
  }

  /** Stores a copy of `value` under `key`. */
  set(key: string, value: Uint8Array): void {
    this.#map.set(key, value.slice());
  }

  /** The keys present (for tests and debugging). */
  keys(): string[] {
    return [...this.#map.keys()];
  }
}

let tmpCounter = 0;

/**
 * State in one JSON file, compatible with Go's `FileStore`: `{"key": "<base64>", …}`, written
 * atomically (temporary file, fsync, rename, fsync of the directory) with mode 0600. The file is
 * read once when the store opens; an empty file counts as empty state.
 *
 * @example
 * ```ts
 * const store = new FileStore('/var/lib/my-service/tailscaled.state');
 * const srv = new Server({ hostname: 'my-service', store });
 * ```
 */
export class FileStore implements StateStore {
  /** The state file's path. */
  readonly path: string;
  readonly #cache = new Map<string, Uint8Array>();

  /**
   * Opens (or creates, with its directory at mode 0700) the state file at `path`. Throws
   * `StateStoreError` when the file exists but is not a state file.
   */
  constructor(path: string) {
    if (typeof path !== 'string' || path === '')
      throw new TypeError('FileStore: path must be a non-empty string');
    this.path = path;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new StateStoreError(`FileStore ${path}: cannot read: ${(err as Error).message}`, {
          cause: err,
        });
      }
      text = '';
    }
    if (text !== '') {
      // State is secret: tighten a file another tool left readable.
      try {
        chmodSync(path, 0o600);
      } catch {
        // Not ours to change (read-only mount): reading still works.
      }
    }
    if (text.trim() === '') {
      this.#flush();
      return;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new StateStoreError(`FileStore ${path}: not a state file (invalid JSON)`, { cause: err });
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new StateStoreError(`FileStore ${path}: not a state file (not a JSON object)`);
    }
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
        throw new StateStoreError(`FileStore ${path}: value of ${JSON.stringify(k)} is not base64`);
      }
      this.#cache.set(k, new Uint8Array(Buffer.from(v, 'base64')));
    }
  }

  /** The value under `key` (a copy), or undefined. */
  get(key: string): Uint8Array | undefined {
    const v = this.#cache.get(key);
    return v === undefined ? undefined : v.slice();
  }

  /** Stores `value` under `key` and rewrites the file atomically before returning. */
  set(key: string, value: Uint8Array): void {
    const prev = this.#cache.get(key);
    if (prev !== undefined && Buffer.from(prev).equals(Buffer.from(value))) return;
    this.#cache.set(key, value.slice());
    this.#flush();
  }

  #flush(): void {
    const obj: Record<string, string> = {};
    for (const [k, v] of this.#cache) obj[k] = Buffer.from(v).toString('base64');
    writeFileAtomic(this.path, `${JSON.stringify(obj, null, '  ')}\n`);
  }
}

/**
 * Writes `data` to `path` so that a reader sees the old content or the new, never a mix: a
 * temporary file beside it (mode 0600), fsync, rename, fsync of the directory.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${tmpCounter++}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o600);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new StateStoreError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems (and Windows) cannot fsync a directory; the rename is still atomic.
  }
}
