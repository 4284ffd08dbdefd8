/**
 * SSRF edges found in review: documentation, 6to4-relay and tunnelling ranges used to be accepted
 * as public (in a deployment one of them can be the host itself), and a refusal named the internal
 * address a host name resolved to.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressPolicy, nonPublicReason } from '../../src/callbacks/addresses.ts';
import { checkCallbackUrl, type Resolver } from '../../src/callbacks/ssrf.ts';

const NEWLY_BLOCKED = [
  ['192.0.2.10', 'documentation'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.200', 'documentation'],
  ['192.88.99.1', '6to4 relay'],
  ['2001:db8::1', 'documentation'],
  // 6to4 of 127.0.0.1 and of a public address: the whole prefix is refused.
  ['2002:7f00:1::1', '6to4'],
  ['2002:808:808::1', '6to4'],
  // Teredo (client 127.0.0.1 stored inverted).
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo'],
  ['2001::1', 'Teredo'],
  ['64:ff9b:1::a00:1', 'local-use NAT64'],
  ['::ffff:0:7f00:1', 'SIIT'],
  ['100::1', 'discard'],
] as const;

describe('SSRF: documentation and tunnelling ranges', () => {
  for (const [address, word] of NEWLY_BLOCKED) {
    it(`refuses ${address}`, () => {
      const reason = nonPublicReason(address);
      assert.ok(reason, `${address} must not be public`);
      assert.match(reason, new RegExp(word));
    });
  }

  it('still allows public neighbours of the new ranges', () => {
    for (const address of [
      '192.0.3.1',
      '198.51.99.1',
      '203.0.114.1',
      '192.88.100.1',
      '2001:db9::1',
      '2003::1',
      '2001:4860:4860::8888',
      '100:0:0:1::1',
    ]) {
      assert.equal(nonPublicReason(address), null, address);
    }
  });

  it('an allowlist still opens a range on purpose', () => {
    assert.equal(new AddressPolicy(['192.0.2.0/24']).refusal('192.0.2.10'), null);
  });

  it('a refused name does not reveal the address it resolved to', async () => {
    const resolve: Resolver = async () => [
      { address: '10.20.30.40', family: 4 },
      { address: '::ffff:192.168.7.7', family: 6 },
    ];
    const err = await checkCallbackUrl('https://internal.example/hook', { allowlist: [], resolve }).then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err);
    assert.match(err.message, /^replyUrl host internal\.example resolves to a private address/);
    assert.doesNotMatch(err.message, /10\.20\.30\.40|192\.168\.7\.7/);
  });
});
