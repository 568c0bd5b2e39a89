/**
 * An in-memory, socket-like pair of Duplex streams for tests: bytes written on one end are read on
 * the other, optionally chopped into pieces (every byte boundary with `chopBytes: 1`) and delivered
 * asynchronously so that writes see backpressure like a real socket.
 *
 * Ending one side (`end()`) makes the other side read EOF; destroying one side makes the other read EOF
 * and close, like a peer dropping a TCP connection.
 *
 * @module
 */
import { Duplex } from 'node:stream';

export interface MemoryDuplexOptions {
  /** Deliver every write in pieces of at most this many bytes (1 = every byte boundary). Default: whole writes. */
  chopBytes?: number;
  /** Deliver pieces of these sizes in turn (cycling across writes); overrides `chopBytes`. Sizes must be ≥ 1. */
  chopPattern?: readonly number[];
  /** Deliver writes on a later tick (setImmediate) instead of synchronously. Default true. */
  async?: boolean;
  /** Writable high-water mark in bytes (backpressure threshold). Default 64 KiB. */
  highWaterMarkBytes?: number;
}

class MemoryEnd extends Duplex {
  peer: MemoryEnd | null = null;
  readonly #chop: number;
  readonly #pattern: readonly number[] | null;
  #patternPos = 0;
  readonly #async: boolean;
  #peerEnded = false;
  /** Write callbacks held back until the peer reads again (its buffer was full): real backpressure. */
  #blocked: Array<() => void> = [];

  constructor(opts: MemoryDuplexOptions) {
    super({ allowHalfOpen: false, highWaterMark: opts.highWaterMarkBytes ?? 64 * 1024 });
    this.#chop = opts.chopBytes ?? 0;
    this.#pattern = opts.chopPattern && opts.chopPattern.length > 0 ? opts.chopPattern.map((n) => Math.max(1, Math.floor(n))) : null;
    this.#async = opts.async ?? true;
  }

  override _read(): void {
    // data is pushed by the peer's writes; reading again releases the peer's held-back writes
    const peer = this.peer;
    if (!peer) return;
    const blocked = peer.#blocked;
    peer.#blocked = [];
    for (const cb of blocked) cb();
  }

  /** Returns false when the peer's read buffer is full (it is not reading). */
  #deliver(chunk: Buffer): boolean {
    const peer = this.peer;
    if (!peer || peer.destroyed || this.#peerEnded) return true;
    let ok = true;
    if (this.#pattern) {
      for (let off = 0; off < chunk.length; ) {
        const n = this.#pattern[this.#patternPos++ % this.#pattern.length]!;
        ok = peer.push(Buffer.from(chunk.subarray(off, off + n)));
        off += n;
      }
    } else if (this.#chop > 0) {
      for (let off = 0; off < chunk.length; off += this.#chop) ok = peer.push(Buffer.from(chunk.subarray(off, off + this.#chop)));
    } else {
      // copy: the writer may reuse its buffer
      ok = peer.push(Buffer.from(chunk));
    }
    return ok;
  }

  #deliverThen(chunk: Buffer, cb: (e?: Error | null) => void): void {
    if (this.#deliver(chunk)) cb();
    else this.#blocked.push(() => cb());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.#async) setImmediate(() => this.#deliverThen(chunk, cb));
    else this.#deliverThen(chunk, cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (e?: Error | null) => void): void {
    const all = Buffer.concat(chunks.map((c) => c.chunk));
    this._write(all, 'binary', cb);
  }

  #endPeer(): void {
    const peer = this.peer;
    if (!peer || this.#peerEnded) return;
    this.#peerEnded = true;
    if (!peer.destroyed) peer.push(null);
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (this.#async) {
      setImmediate(() => {
        this.#endPeer();
        cb();
      });
    } else {
      this.#endPeer();
      cb();
    }
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    const blocked = this.#blocked;
    this.#blocked = [];
    for (const b of blocked) b();
    // like a dropped socket: the peer reads EOF (after what was already delivered)
    setImmediate(() => this.#endPeer());
    cb(err);
  }
}

/** Create a connected pair `[a, b]`: what `a` writes, `b` reads, and vice versa. */
export function createMemoryDuplexPair(opts: MemoryDuplexOptions = {}): [Duplex, Duplex] {
  const a = new MemoryEnd(opts);
  const b = new MemoryEnd(opts);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
