/**
 * SSRF guard: address ranges, URL checks at submit (literals and resolved names), and the
 * connect-time lookup that refuses a name rebound to a private address between check and connect.
 * The connect-time tests use real receivers on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { GatewayError } from '../../src/domain/errors.ts';
import {
  AddressPolicy,
  CidrSet,
  embeddedIpv4,
  expandIpv6,
  nonPublicReason,
  parseCidr,
} from '../../src/callbacks/addresses.ts';
import { CallbackSender } from '../../src/callbacks/sender.ts';
import {
  checkCallbackUrl,
  createCallbackPolicy,
  guardedLookup,
  type Resolver,
} from '../../src/callbacks/ssrf.ts';
import { Receiver } from './receiver.ts';

const PUBLIC_V4 = '93.184.216.34';
const PUBLIC_V6 = '2606:2800:220:1:248:1893:25c8:1946';

/** A resolver from a fixed table; unknown names fail like DNS does. */
function table(entries: Record<string, string[]>): Resolver {
  return async (hostname) => {
    const addresses = entries[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

async function refused(
  url: string,
  policy: Parameters<typeof checkCallbackUrl>[1],
  pattern: RegExp = /^replyUrl /,
): Promise<string> {
  const err = await checkCallbackUrl(url, policy).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof GatewayError, `${url} should be refused`);
  assert.equal(err.status, 400);
  assert.match(err.message, pattern);
  return err.message;
}

describe('address ranges', () => {
  const blocked = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'metadata'],
    ['100.64.0.1', 'carrier'],
    ['0.0.0.0', 'this network'],
    ['192.0.0.8', 'IETF'],
    ['198.18.0.1', 'benchmark'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'private'],
    ['[::1]', 'loopback'],
  ] as const;
  for (const [address, word] of blocked) {
    it(`refuses ${address}`, () => {
      const reason = nonPublicReason(address);
      assert.ok(reason, `${address} must not be public`);
      assert.match(reason, new RegExp(word));
    });
  }

  for (const address of [
    PUBLIC_V4,
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '11.0.0.1',
    '192.169.0.1',
    PUBLIC_V6,
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2001:4860:4860::8888',
  ]) {
    it(`allows public ${address}`, () => assert.equal(nonPublicReason(address), null));
  }

  it('refuses text that is not an address', () =>
    assert.equal(nonPublicReason('example.com'), 'not an IP address'));

  it('expands IPv6 and finds embedded IPv4', () => {
    assert.deepEqual(expandIpv6('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
    assert.deepEqual(expandIpv6('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(expandIpv6('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
    assert.equal(expandIpv6('1.2.3.4'), null);
    assert.equal(embeddedIpv4('::ffff:7f00:1'), '127.0.0.1');
    assert.equal(embeddedIpv4('64:ff9b::c0a8:101'), '192.168.1.1');
    assert.equal(embeddedIpv4('2001:db8::1'), null);
  });

  it('IPv4-mapped and NAT64 forms are judged exactly like the IPv4 they embed (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const plain = nonPublicReason(v4) === null;
        assert.equal(nonPublicReason(`::ffff:${v4}`) === null, plain);
        assert.equal(nonPublicReason(`64:ff9b::${v4}`) === null, plain);
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        assert.equal(nonPublicReason(hex) === null, plain);
      }),
      { numRuns: 2000 },
    );
  });

  it('every address in the private IPv4 blocks is refused (property)', () => {
    const inBlock = (base: number, bits: number) =>
      fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((n) => {
        const x = (base + n) >>> 0;
        return [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
      });
    const ip = (text: string) => text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
    fc.assert(
      fc.property(
        fc.oneof(
          inBlock(ip('10.0.0.0'), 8),
          inBlock(ip('172.16.0.0'), 12),
          inBlock(ip('192.168.0.0'), 16),
          inBlock(ip('127.0.0.0'), 8),
          inBlock(ip('169.254.0.0'), 16),
        ),
        (address) => {
          assert.notEqual(nonPublicReason(address), null, address);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('parses CIDRs and refuses bad ones with the entry named', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr(' fd00::/8 '), { address: 'fd00::', prefix: 8, family: 'ipv6' });
    assert.deepEqual(parseCidr('127.0.0.1'), { address: '127.0.0.1', prefix: 32, family: 'ipv4' });
    assert.deepEqual(parseCidr('[::1]'), { address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of [
      '10.0.0.0/33',
      'fd00::/129',
      'example.com/8',
      '10.0.0/8',
      '10.0.0.0/',
      '10.0.0.0/-1',
      '',
    ]) {
      assert.throws(() => parseCidr(bad), /CIDR|prefix/, bad);
    }
    assert.throws(() => new AddressPolicy(['127.0.0.0/8', 'nope']), /callback allowlist: "nope"/);
  });

  it('CidrSet matches subnets of both families', () => {
    const set = new CidrSet(['127.0.0.0/8', 'fd00::/8', '203.0.113.7']);
    assert.ok(set.has('127.9.9.9'));
    assert.ok(set.has('::ffff:127.0.0.1'));
    assert.ok(set.has('fdab::1'));
    assert.ok(set.has('203.0.113.7'));
    assert.ok(!set.has('203.0.113.8'));
    assert.ok(!set.has('fe80::1'));
    assert.ok(!set.has('localhost'));
  });

  it('an allowlist overrides the block only for the ranges it names', () => {
    const policy = new AddressPolicy(['127.0.0.0/8', '::1/128']);
    assert.equal(policy.refusal('127.0.0.1'), null);
    assert.equal(policy.refusal('::1'), null);
    assert.equal(policy.refusal('::ffff:127.0.0.1'), null);
    assert.match(policy.refusal('10.0.0.1')!, /private/);
    assert.match(policy.refusal('169.254.169.254')!, /metadata/);
  });
});

describe('checkCallbackUrl (submit time)', () => {
  const resolve = table({
    'public.test': [PUBLIC_V4, PUBLIC_V6],
    'loop.test': ['127.0.0.1'],
    'ten.test': ['10.0.0.7'],
    'corp.test': ['172.20.1.1'],
    'home.test': ['192.168.0.10'],
    'meta.test': ['169.254.169.254'],
    'v6loop.test': ['::1'],
    'ula.test': ['fd00::5'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'mixed.test': [PUBLIC_V4, '10.1.1.1'],
    'empty.test': [],
  });
  const policy = { allowlist: [] as string[], resolve };

  it('accepts http and https URLs whose host is public', async () => {
    await checkCallbackUrl('https://public.test/hooks?x=1', policy);
    await checkCallbackUrl(`http://${PUBLIC_V4}:8080/`, policy);
    await checkCallbackUrl(`https://[${PUBLIC_V6}]/cb`, policy);
  });

  for (const url of [
    'http://127.0.0.1/',
    'http://127.1.2.3:9000/x',
    'http://10.0.0.1/',
    'http://172.16.5.4/',
    'http://172.31.0.1/',
    'http://192.168.1.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/',
    'http://[fc00::1]/',
    'http://[fd00:ab::1]:8080/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:a00:1]/',
    'http://[64:ff9b::7f00:1]/',
    'http://0.0.0.0/',
    'http://0x7f.1/',
    'http://2130706433/',
    'http://017700000001/',
    'https://[fe80::1]/',
  ]) {
    it(`refuses the literal ${url}`, async () => {
      const message = await refused(url, policy, /^replyUrl host .* is a .*address/);
      assert.match(message, /public addresses/);
    });
  }

  for (const host of [
    'loop.test',
    'ten.test',
    'corp.test',
    'home.test',
    'meta.test',
    'v6loop.test',
    'ula.test',
    'mapped.test',
  ]) {
    it(`refuses the name ${host}, which resolves to a non-public address`, async () => {
      await refused(
        `https://${host}/cb`,
        policy,
        new RegExp(`^replyUrl host ${host.replace('.', '\\.')} resolves to `),
      );
    });
  }

  it('refuses a name when any one of its addresses is non-public', async () => {
    await refused('https://mixed.test/', policy, /resolves to a private address/);
  });

  it('accepts names that do not resolve by default (checked again at every connect), refuses them when configured to', async () => {
    await checkCallbackUrl('https://nowhere.test/', policy);
    await checkCallbackUrl('https://empty.test/', policy);
    const strict = { ...policy, refuseUnresolvable: true };
    await refused('https://nowhere.test/', strict, /does not resolve \(ENOTFOUND\)/);
    await refused('https://empty.test/', strict, /does not resolve/);
  });

  it('does not let a slow resolver hold a submit', async () => {
    const slow: Resolver = () =>
      new Promise((resolve) => setTimeout(() => resolve([{ address: '10.0.0.1', family: 4 }]), 2_000));
    const started = Date.now();
    await checkCallbackUrl('https://slow.test/', {
      allowlist: [],
      resolve: slow,
      submitResolveTimeoutMs: 100,
    });
    assert.ok(Date.now() - started < 1_000);
    await refused(
      'https://slow.test/',
      { allowlist: [], resolve: slow, submitResolveTimeoutMs: 100, refuseUnresolvable: true },
      /did not resolve within 100 ms/,
    );
  });

  it('refuses other schemes and non-URLs', async () => {
    await refused('ftp://public.test/', policy, /must use http or https, not ftp/);
    await refused('file:///etc/passwd', policy, /must use http or https, not file/);
    await refused('javascript:alert(1)', policy, /must use http or https/);
    await refused('not a url', policy, /is not a valid URL/);
    await refused('http://', policy, /not a valid URL|no host/);
  });

  it('allowlisted ranges are accepted, others still refused', async () => {
    const loose = { allowlist: ['127.0.0.0/8', '::1'], resolve };
    await checkCallbackUrl('http://127.0.0.1:8080/', loose);
    await checkCallbackUrl('http://[::1]/', loose);
    await checkCallbackUrl('http://[::ffff:127.0.0.1]/', loose);
    await checkCallbackUrl('http://loop.test/', loose);
    await refused('http://10.0.0.1/', loose);
    await refused('http://meta.test/', loose);
  });

  it('uses the system resolver by default (localhost is loopback)', async () => {
    // (Resolving localhost needs no network: it comes from /etc/hosts.)
    await refused(
      'http://localhost:1234/',
      { allowlist: [] },
      /^replyUrl host localhost resolves to .*loopback/,
    );
    await checkCallbackUrl('http://localhost:1234/', { allowlist: ['127.0.0.0/8', '::1'] });
  });
});

describe('guardedLookup (connect time)', () => {
  const lookup = (policy: Parameters<typeof guardedLookup>[0], host: string, options: object) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
      guardedLookup(policy)(host, options, (err, address, family) => resolve({ err, address, family })),
    );

  it('answers both call forms with checked addresses only', async () => {
    const policy = { allowlist: [], resolve: table({ 'public.test': [PUBLIC_V4, PUBLIC_V6] }) };
    const all = await lookup(policy, 'public.test', { all: true });
    assert.equal(all.err, null);
    assert.deepEqual(all.address, [
      { address: PUBLIC_V4, family: 4 },
      { address: PUBLIC_V6, family: 6 },
    ]);
    const one = await lookup(policy, 'public.test', { family: 6 });
    assert.deepEqual([one.address, one.family], [PUBLIC_V6, 6]);
  });

  it('refuses a name resolving to a private address', async () => {
    const result = await lookup({ allowlist: [], resolve: table({ 'x.test': ['192.168.1.20'] }) }, 'x.test', {
      all: true,
    });
    assert.match(result.err!.message, /resolves to a private address/);
    assert.doesNotMatch(result.err!.message, /192\.168/);
  });
});

describe('SSRF at delivery (real receivers)', () => {
  let receiver: Receiver;
  const senders: CallbackSender[] = [];
  const sender = (allowlist: string[], resolve?: Resolver) => {
    const s = new CallbackSender({ policy: createCallbackPolicy(allowlist, resolve), timeoutMs: 2_000 });
    senders.push(s);
    return s;
  };
  const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' };

  before(async () => {
    receiver = await Receiver.start();
  });
  after(async () => {
    for (const s of senders) await s.close();
    await receiver.close();
  });

  it('allowlisted loopback works, by literal and by name', async () => {
    const count = receiver.received.length;
    const s = sender(['127.0.0.0/8'], table({ 'hooks.test': ['127.0.0.1'] }));
    assert.deepEqual(await s.send(receiver.url, '{}', headers), { delivered: true, status: 200 });
    const byName = await s.send(`http://hooks.test:${receiver.port}/named`, '{}', headers);
    assert.deepEqual(byName, { delivered: true, status: 200 });
    assert.equal(receiver.received.length, count + 2);
    const last = receiver.received.at(-1)!;
    assert.equal(last.headers.host, `hooks.test:${receiver.port}`);
    assert.equal(last.path, '/named');
  });

  for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '0x7f.0.0.1', '2130706433']) {
    it(`refuses the literal ${host} without an allowlist and does not retry it`, async () => {
      const count = receiver.received.length;
      const outcome = await sender([]).send(`http://${host}:${receiver.port}/hook`, '{}', headers);
      assert.equal(outcome.delivered, false);
      assert.ok(!outcome.delivered && outcome.final === true);
      assert.match(!outcome.delivered ? outcome.error : '', /loopback address/);
      assert.equal(receiver.received.length, count, 'the receiver must not be reached');
    });
  }

  for (const address of [
    '127.0.0.1',
    '10.0.0.1',
    '172.16.0.1',
    '192.168.0.1',
    '169.254.169.254',
    '::1',
    'fd00::1',
    '::ffff:127.0.0.1',
  ]) {
    it(`refuses a name resolving to ${address} at connect`, async () => {
      const count = receiver.received.length;
      const outcome = await sender([], table({ 'evil.test': [address] })).send(
        `http://evil.test:${receiver.port}/hook`,
        '{}',
        headers,
      );
      assert.ok(!outcome.delivered);
      assert.match(outcome.error, /SSRF guard: replyUrl host evil\.test resolves to/);
      assert.notEqual(outcome.final, true, 'a name may resolve differently later: retried on schedule');
      assert.equal(receiver.received.length, count);
    });
  }

  it('refuses a name rebound to loopback between the submit check and the connect', async () => {
    let calls = 0;
    const rebinding: Resolver = async () => {
      calls++;
      return [{ address: calls === 1 ? PUBLIC_V4 : '127.0.0.1', family: 4 }];
    };
    const policy = createCallbackPolicy([], rebinding);
    const url = `http://rebind.test:${receiver.port}/hook`;
    await checkCallbackUrl(url, policy); // submit: public, accepted
    const count = receiver.received.length;
    const s = new CallbackSender({ policy, timeoutMs: 2_000 });
    senders.push(s);
    const outcome = await s.send(url, '{}', headers); // connect: now 127.0.0.1
    assert.ok(!outcome.delivered);
    assert.match(outcome.error, /resolves to a loopback address/);
    assert.doesNotMatch(outcome.error!, /127\.0\.0\.1/);
    assert.equal(calls, 2, 'the connect resolved the name itself');
    assert.equal(receiver.received.length, count, 'the receiver was never reached');
  });
});
