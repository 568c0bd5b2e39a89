/**
 * Wire test for the reference router's legacy-Hello screening (screenLegacyHello, [HS-12]) with a
 * first read that is only a 4-byte length prefix. Reported: with length 0 or > 1 MiB the
 * connection stayed open until the 5 s handshake timeout. Not reproduced (the prefix is handed
 * to the v3 handshake, which refuses it at once [FRM-2] [FRM-4]); this keeps it that way, over
 * unix and TCP, with the prefix written alone. Literal bytes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceRouter } from '../src/peers/router.js';

type Handle = Awaited<ReturnType<typeof startReferenceRouter>>;

/** Connect, write `hex` alone, and report when the router closed (ms) and what it sent. */
async function sendAlone(address: string, hex: string, waitMs: number): Promise<{ closedAfterMs: number | null; received: string }> {
  const sock = address.startsWith('unix:') ? net.createConnection(address.slice(5)) : net.createConnection(Number(address.split(':').pop()), '127.0.0.1');
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.setNoDelay(true);
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  sock.on('error', () => undefined);
  const t0 = performance.now();
  sock.write(Buffer.from(hex, 'hex'));
  const closed = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), waitMs);
    sock.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
  const closedAfterMs = closed ? performance.now() - t0 : null;
  sock.destroy();
  return { closedAfterMs, received: Buffer.concat(chunks).toString('hex') };
}

describe('legacy-Hello screening: a first read of only a length prefix [HS-12] [FRM-2] [FRM-4]', () => {
  let dir: string;
  const routers: Record<'unix' | 'tcp', Handle | undefined> = { unix: undefined, tcp: undefined };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ncfz-legacy-'));
    // the default 5 s handshake timeout, as in the report: a close "at once" must come well before it
    routers.unix = await startReferenceRouter({ listen: `unix:${join(dir, 'r.sock')}`, shards: [0], log: null });
    routers.tcp = await startReferenceRouter({ listen: 'tcp:127.0.0.1:0', shards: [0], log: null });
  });
  afterAll(async () => {
    await routers.unix?.close();
    await routers.tcp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['unix', 'tcp'] as const) {
    for (const [hex, why] of [
      ['00000000', 'length 0 [FRM-2]'],
      ['01001000', 'length 1 MiB + 1 [FRM-4]'],
      ['ffffffff', 'length 2^32 - 1 [FRM-4]'],
    ] as const) {
      it(`${transport}: prefix ${hex} alone (${why}) closes at once, nothing sent`, async () => {
        const r = await sendAlone(routers[transport]!.address, hex, 2500);
        expect(r.closedAfterMs, 'still open 2.5 s after the prefix (the 5 s handshake timeout would close it later)').not.toBeNull();
        expect(r.received).toBe('');
      });
    }
    it(`${transport}: prefix 00001000 alone (exactly 1 MiB, allowed) is not refused`, async () => {
      const r = await sendAlone(routers[transport]!.address, '00001000', 300);
      expect(r.closedAfterMs).toBeNull();
    });
  }
});
