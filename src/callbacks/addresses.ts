/**
 * Which IP addresses a callback may reach. Pure: no DNS, no sockets.
 *
 * Non-public ranges are kept in a `node:net` BlockList (which matches IPv4 and IPv6 subnets,
 * and IPv4-mapped IPv6 addresses against IPv4 rules). Addresses that embed an IPv4 address —
 * IPv4-mapped `::ffff:a.b.c.d` and NAT64 `64:ff9b::a.b.c.d` — are also judged by the embedded
 * address explicitly, so `[::ffff:127.0.0.1]` or `64:ff9b::7f00:1` can never reach loopback.
 *
 * An allowlist of CIDRs (config PIXGATE_CALLBACK_ALLOWLIST; tests use 127.0.0.0/8) overrides
 * the block for the addresses it covers.
 */
import { BlockList, isIP } from 'node:net';

type Family = 'ipv4' | 'ipv6';

interface Range {
  cidr: string;
  label: string;
}

/** Ranges a callback may not reach unless allowlisted, with the words an error uses for them. */
export const BLOCKED_RANGES: readonly Range[] = [
  { cidr: '0.0.0.0/8', label: '"this network" address' },
  { cidr: '10.0.0.0/8', label: 'private address' },
  { cidr: '100.64.0.0/10', label: 'carrier-grade NAT address' },
  { cidr: '127.0.0.0/8', label: 'loopback address' },
  { cidr: '169.254.0.0/16', label: 'link-local address (cloud metadata)' },
  { cidr: '172.16.0.0/12', label: 'private address' },
  { cidr: '192.0.0.0/24', label: 'IETF protocol assignment address' },
  { cidr: '192.168.0.0/16', label: 'private address' },
  { cidr: '198.18.0.0/15', label: 'benchmarking address' },
  { cidr: '224.0.0.0/4', label: 'multicast address' },
  { cidr: '255.255.255.255/32', label: 'broadcast address' },
  { cidr: '240.0.0.0/4', label: 'reserved address' },
  // Documentation and relay ranges: never a legitimate receiver, and a deployment may route one of
  // them to itself (test networks on lab hosts, a local 6to4 relay).
  { cidr: '192.0.2.0/24', label: 'documentation address' },
  { cidr: '198.51.100.0/24', label: 'documentation address' },
  { cidr: '203.0.113.0/24', label: 'documentation address' },
  { cidr: '192.88.99.0/24', label: '6to4 relay address' },
  // ::/128 (unspecified) and ::1 (loopback) sit in the deprecated IPv4-compatible block
  // ::/96, which no public host uses; blocking all of it also stops ::7f00:1 and friends.
  { cidr: '::/96', label: 'unspecified, loopback or IPv4-compatible IPv6 address' },
  { cidr: 'fc00::/7', label: 'unique-local (private) IPv6 address' },
  { cidr: 'fe80::/10', label: 'link-local IPv6 address' },
  { cidr: 'ff00::/8', label: 'multicast IPv6 address' },
  { cidr: '2001:db8::/32', label: 'documentation IPv6 address' },
  // Tunnelling prefixes carry an IPv4 address a gateway on the path unwraps: 6to4 (2002:AABB:CCDD::)
  // and Teredo (2001:0::, client address inverted in the last 32 bits) can point at any IPv4 host,
  // loopback included, so the whole prefixes are refused rather than judged by the embedded address.
  { cidr: '2002::/16', label: '6to4 IPv6 address (embeds an IPv4 address)' },
  { cidr: '2001::/32', label: 'Teredo IPv6 address (embeds an IPv4 address)' },
  { cidr: '64:ff9b:1::/48', label: 'local-use NAT64 IPv6 address' },
  { cidr: '::ffff:0:0:0/96', label: 'IPv4-translated (SIIT) IPv6 address' },
  { cidr: '100::/64', label: 'discard-only IPv6 address' },
];

export interface Cidr {
  /** Normalized network address. */
  address: string;
  prefix: number;
  family: Family;
}

/** Parses "a.b.c.d/n", "v6::/n" or a bare address (a single host). Throws naming the entry. */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = stripBrackets(slash === -1 ? trimmed : trimmed.slice(0, slash));
  const version = isIP(address);
  if (version === 0) throw new Error(`"${text}" is not a CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)`);
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const bits = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
      throw new Error(`"${text}" has an invalid prefix length (0–${max})`);
    prefix = Number(bits);
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** A set of CIDRs answering "does it contain this address?". */
export class CidrSet {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(cidrs: readonly (string | Cidr)[]) {
    for (const entry of cidrs) {
      const cidr = typeof entry === 'string' ? parseCidr(entry) : entry;
      this.list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.size = cidrs.length;
  }

  /** False for text that is not an IP address. */
  has(address: string): boolean {
    const ip = stripBrackets(address);
    const version = isIP(ip);
    if (version === 0) return false;
    if (this.list.check(ip, version === 4 ? 'ipv4' : 'ipv6')) return true;
    const embedded = embeddedIpv4(ip);
    return embedded !== null && this.list.check(embedded, 'ipv4');
  }
}

const BLOCKED: readonly { set: CidrSet; label: string }[] = BLOCKED_RANGES.map((range) => ({
  set: new CidrSet([range.cidr]),
  label: range.label,
}));

/**
 * Why `address` is not public (e.g. "loopback address"), or null when it is. Addresses that
 * embed IPv4 are judged by the embedded address; text that is not an IP is refused.
 */
export function nonPublicReason(address: string): string | null {
  const ip = stripBrackets(address);
  const version = isIP(ip);
  if (version === 0) return 'not an IP address';
  if (version === 6) {
    const embedded = embeddedIpv4(ip);
    if (embedded !== null) {
      const inner = nonPublicReason(embedded);
      return inner === null ? null : `${inner} (${embedded} embedded in IPv6)`;
    }
  }
  for (const range of BLOCKED) if (range.set.has(ip)) return range.label;
  return null;
}

/** The addresses callbacks may reach: public ones, plus anything in the allowlist. */
export class AddressPolicy {
  private readonly allow: CidrSet;

  /** Throws on an allowlist entry that is not a CIDR, naming it (a config error). */
  constructor(allowlist: readonly string[]) {
    this.allow = new CidrSet(
      allowlist.map((entry) => {
        try {
          return parseCidr(entry);
        } catch (err) {
          throw new Error(`callback allowlist: ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Null when a callback may connect to `address`, otherwise why not. */
  refusal(address: string): string | null {
    if (this.allow.has(address)) return null;
    return nonPublicReason(address);
  }
}

/** The IPv4 address inside an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96) address. */
export function embeddedIpv4(ipv6: string): string | null {
  const groups = expandIpv6(ipv6);
  if (!groups) return null;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (!mapped && !nat64) return null;
  return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
}

/** Eight 16-bit groups of an IPv6 address (dotted IPv4 tail allowed), or null. */
export function expandIpv6(text: string): number[] | null {
  let ip = stripBrackets(text);
  if (isIP(ip) !== 6) return null;
  const zone = ip.indexOf('%');
  if (zone !== -1) ip = ip.slice(0, zone);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    ip = `${ip.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = ip.includes('::') ? (ip.split('::') as [string, string]) : [ip, null];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  if (tail === null) return left.length === 8 ? left : null;
  const right = parse(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0) return null;
  return [...left, ...new Array<number>(fill).fill(0), ...right];
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
