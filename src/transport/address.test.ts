import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isProtocolError } from '../errors.js';
import { formatAddress, isLoopbackHost, localSocketPath, parseAddress } from './address.js';

function refused(input: string): string {
  try {
    parseAddress(input);
  } catch (e) {
    expect(isProtocolError(e)).toBe(true);
    if (!isProtocolError(e)) throw e;
    expect(e.code).toBe('ADDRESS_INVALID');
    expect(e.rule).toBe('TRN-1');
    return e.message;
  }
  throw new Error('accepted');
}

describe('parseAddress [TRN-1]', () => {
  it.each([
    ['unix:/run/nova.sock', { scheme: 'unix', path: '/run/nova.sock' }],
    ['tcp:127.0.0.1:7000', { scheme: 'tcp', host: '127.0.0.1', port: 7000 }],
    ['tcp:localhost:0', { scheme: 'tcp', host: 'localhost', port: 0 }],
    ['tcp:router-1.example.com:65535', { scheme: 'tcp', host: 'router-1.example.com', port: 65535 }],
    ['tcp:[::1]:7000', { scheme: 'tcp', host: '::1', port: 7000 }],
    ['tcp+tls:[2001:db8::1]:443', { scheme: 'tcp+tls', host: '2001:db8::1', port: 443 }],
    ['tcp+tls:nova.internal:8443', { scheme: 'tcp+tls', host: 'nova.internal', port: 8443 }],
    ['pipe:nova-router_1.a', { scheme: 'pipe', name: 'nova-router_1.a' }],
  ])('accepts %s', (input, expected) => {
    expect(parseAddress(input)).toEqual(expected);
    expect(formatAddress(parseAddress(input))).toBe(input);
  });

  it.each([
    '',
    'nova.sock',
    'unix:relative/path',
    'unix:',
    `unix:/${'a'.repeat(200)}`,
    'tcp:127.0.0.1',
    'tcp::7000',
    'tcp:127.0.0.1:65536',
    'tcp:127.0.0.1:-1',
    'tcp:127.0.0.1:70a',
    'tcp:127.0.0.1:',
    'tcp:::1:7000',
    'tcp:[::1]7000',
    'tcp:[127.0.0.1]:7000',
    'tcp:300.1.1.1:7000',
    'tcp:bad_host:7000',
    'tcp:-bad.example:7000',
    'tcp+tls:host',
    'udp:127.0.0.1:7000',
    'TCP:127.0.0.1:7000',
    'pipe:',
    'pipe:a/b',
    'pipe:..',
    'pipe:has space',
    'tcp:127.0.0.1:7000\n',
    `tcp:${'a'.repeat(2000)}:1`,
  ])('refuses %j', (input) => {
    refused(input);
  });

  it('never echoes the input (it may be a secret pasted into the wrong flag)', () => {
    const secret = 'sk-live-0123456789abcdef';
    for (const input of [secret, `tcp:${secret}:x`, `unix:${secret}`, `pipe:${secret}/x`, `${secret}:${secret}`]) {
      const msg = refused(input);
      expect(msg).not.toContain(secret);
      expect(msg).not.toContain('sk-live');
    }
  });
});

describe('helpers', () => {
  it('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST.', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com', '::ffff:10.0.0.1', '::2']) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });

  it.skipIf(process.platform === 'win32')('pipe names map to <tmpdir>/nova-pipe-<name>.sock', () => {
    expect(localSocketPath({ scheme: 'pipe', name: 'x1' })).toBe(join(tmpdir(), 'nova-pipe-x1.sock'));
    expect(localSocketPath({ scheme: 'unix', path: '/a/b' })).toBe('/a/b');
    expect(() => localSocketPath({ scheme: 'pipe', name: 'n'.repeat(150) })).toThrow(/longer than/);
  });
});
