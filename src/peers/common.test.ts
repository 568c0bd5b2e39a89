import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeRpcPayload, decodeWireFrame } from '../wire/index.js';
import { loadAuthToken, paddedPacketFrame, paddedRequestPayload, parseCompressionList, parseVersion } from './common.js';
import { createLogger } from './log.js';

describe('peer helpers', () => {
  it('loads tokens from a file or env only, never echoing them in errors [SEC-3]', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nova-tok-'));
    try {
      const f = join(dir, 't');
      writeFileSync(f, 'secret-value-1\r\n');
      expect(loadAuthToken({ authTokenFile: f })).toBe('secret-value-1');
      process.env['NOVA_PEER_TEST_TOK'] = 'secret-value-2';
      expect(loadAuthToken({ authTokenEnv: 'NOVA_PEER_TEST_TOK' })).toBe('secret-value-2');
      expect(loadAuthToken({})).toBeNull();
      expect(() => loadAuthToken({ authTokenFile: f, authTokenEnv: 'NOVA_PEER_TEST_TOK' })).toThrow(/one source/);
      expect(() => loadAuthToken({ authTokenEnv: 'NOVA_PEER_TEST_UNSET_VAR' })).toThrow(/not set/);
      writeFileSync(f, '\n');
      expect(() => loadAuthToken({ authTokenFile: f })).toThrow(/empty/);
      try {
        loadAuthToken({ authTokenFile: join(dir, 'missing-secret-value-3') });
      } catch (e) {
        expect((e as Error).message).not.toContain('secret-value-3');
        expect((e as { details: Record<string, unknown> }).details['errno']).toBe('ENOENT');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses versions and compression lists', () => {
    expect(parseVersion('3.7')).toEqual({ major: 3, minor: 7 });
    expect(() => parseVersion('3')).toThrow();
    expect(parseCompressionList('zstd, none')).toEqual(['zstd', 'none']);
    expect(() => parseCompressionList('lz4')).toThrow();
  });

  it('padded payloads and frames hit the requested size exactly and stay decodable', () => {
    for (const target of [100, 1025, 4097, 65537]) {
      const p = paddedRequestPayload(target);
      expect(p.length).toBe(target);
      expect(decodeRpcPayload(p).type).toBe('request');
      const f = paddedPacketFrame(6n, target + 60);
      expect(f.length).toBe(target + 60);
      expect(decodeWireFrame(f).type).toBe('packet');
    }
  });

  it('the logger redacts configured secrets in every line [SEC-2]', () => {
    const lines: string[] = [];
    const log = createLogger({ role: 'router', sink: (l) => lines.push(l), secrets: ['hunter2'] });
    log.log('x', { note: 'pw hunter2 here', id: 5n });
    log.addSecret('s3cr3t');
    log.log('y', { a: 's3cr3t' });
    expect(lines.join('\n')).not.toMatch(/hunter2|s3cr3t/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ role: 'router', event: 'x', id: '5', note: 'pw [redacted] here' });
  });
});
