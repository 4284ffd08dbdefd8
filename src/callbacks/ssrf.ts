/**
 * SSRF guard for callback URLs (engineering notes: "callback URLs must resolve to public
 * addresses; check IP literals and every resolved address at connect time").
 *
 * Two checks, one policy:
 *  - checkCallbackUrl() at submit (create routes, POST /v2/account): scheme, IP literal, and
 *    every address the name resolves to now, so a client learns at once that its URL is refused.
 *  - guardedLookup() at connect, on every attempt: the HTTP agent's own DNS lookup resolves the
 *    name, refuses the connection if any address is non-public, and hands the socket only the
 *    addresses it checked. A name that resolved to a public address at submit and to 127.0.0.1
 *    later (DNS rebinding) is refused there, because the socket connects to what this lookup
 *    returned, not to a second resolution. IP literals never reach a lookup (net.connect skips
 *    it), so the sender also re-checks literals before each attempt with checkUrlShape().
 */
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { GatewayError } from '../domain/errors.ts';
import { AddressPolicy, stripBrackets } from './addresses.ts';

export interface ResolvedAddress {
  address: string;
  /** 4 or 6. */
  family: number;
}

/** Resolves a host name to all its addresses (injectable: tests return what they need). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

export interface CallbackPolicyInput {
  /** CIDRs that may be reached although not public (config callbackAllowlist). */
  allowlist: readonly string[];
  resolve?: Resolver;
  /**
   * At submit, refuse a name that does not resolve (default false: accept it — nothing it
   * resolves to is private, and every attempt re-checks at connect, where a name that still
   * does not resolve fails visibly in the delivery log). Off by default so a DNS hiccup or an
   * offline test machine never rejects a paid job.
   */
  refuseUnresolvable?: boolean;
  /** Longest checkCallbackUrl waits for DNS before treating the name as unresolved (default 2 s). */
  submitResolveTimeoutMs?: number;
}

/** A compiled policy: which addresses are allowed and how names are resolved. */
export class CallbackPolicy {
  readonly addresses: AddressPolicy;
  readonly resolve: Resolver;
  readonly refuseUnresolvable: boolean;
  readonly submitResolveTimeoutMs: number;

  constructor(input: CallbackPolicyInput) {
    this.addresses = new AddressPolicy(input.allowlist);
    this.resolve = input.resolve ?? systemResolver;
    this.refuseUnresolvable = input.refuseUnresolvable ?? false;
    this.submitResolveTimeoutMs = input.submitResolveTimeoutMs ?? 2_000;
  }
}

export function createCallbackPolicy(
  allowlist: readonly string[],
  resolve?: Resolver,
  options: Pick<CallbackPolicyInput, 'refuseUnresolvable' | 'submitResolveTimeoutMs'> = {},
): CallbackPolicy {
  return new CallbackPolicy({ allowlist, ...(resolve ? { resolve } : {}), ...options });
}

const compiled = new WeakMap<CallbackPolicyInput, CallbackPolicy>();
function compile(policy: CallbackPolicy | CallbackPolicyInput): CallbackPolicy {
  if (policy instanceof CallbackPolicy) return policy;
  let hit = compiled.get(policy);
  if (!hit) compiled.set(policy, (hit = new CallbackPolicy(policy)));
  return hit;
}

/** A callback target refused by the policy (not retried if the URL itself is the problem). */
export class BlockedTargetError extends Error {
  readonly code: string = 'EPIXGATE_BLOCKED';
  constructor(
    message: string,
    /** True when the URL alone decides (scheme, IP literal): retrying cannot help. */
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'BlockedTargetError';
  }
}

/** The name did not resolve (or resolved to nothing): not a policy verdict on an address. */
export class UnresolvedHostError extends BlockedTargetError {
  override readonly code: string = 'ENOTFOUND';
  constructor(message: string) {
    super(message, false);
    this.name = 'UnresolvedHostError';
  }
}

export interface UrlShape {
  url: URL;
  /** Host without IPv6 brackets. */
  host: string;
  /** 4 or 6 for an IP literal, 0 for a name. */
  literal: 0 | 4 | 6;
}

const SHOWN = 120;
function shown(text: string): string {
  return text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text;
}

/**
 * The checks that need no DNS: a parseable http(s) URL, and an allowed address when the host is
 * an IP literal (the WHATWG parser already turned forms like 0x7f.1 or 2130706433 into dotted
 * IPv4). Throws BlockedTargetError (permanent).
 */
export function checkUrlShape(text: string, policy: CallbackPolicy | CallbackPolicyInput): UrlShape {
  const compiledPolicy = compile(policy);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BlockedTargetError(`replyUrl "${shown(text)}" is not a valid URL`, true);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BlockedTargetError(`replyUrl must use http or https, not ${url.protocol.slice(0, -1)}`, true);
  }
  const host = stripBrackets(url.hostname);
  if (host === '') throw new BlockedTargetError('replyUrl has no host', true);
  const literal = isIP(host) as 0 | 4 | 6;
  if (literal !== 0) {
    const refusal = compiledPolicy.addresses.refusal(host);
    if (refusal !== null) throw new BlockedTargetError(refusedText(url.hostname, host, refusal), true);
  }
  return { url, host, literal };
}

/**
 * For a name, the address it resolved to is not named: it tells a tenant how the gateway's network
 * resolves internal names (the kind of address is enough to fix the URL).
 */
function refusedText(hostname: string, address: string, reason: string): string {
  const literal = hostname === address || hostname === `[${address}]`;
  const target = literal ? `replyUrl host ${hostname} is` : `replyUrl host ${hostname} resolves to`;
  const kind = literal ? reason : reason.replace(/ \([^)]* embedded in IPv6\)$/, '');
  return `${target} a ${kind}; callbacks only go to public addresses (an operator can allow a range with PIXGATE_CALLBACK_ALLOWLIST)`;
}

/** Resolves `host` and checks every address; returns them all when all are allowed. */
export async function resolveAllowed(
  host: string,
  policy: CallbackPolicy | CallbackPolicyInput,
): Promise<ResolvedAddress[]> {
  const compiledPolicy = compile(policy);
  let addresses: ResolvedAddress[];
  try {
    addresses = await compiledPolicy.resolve(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UnresolvedHostError(`replyUrl host ${host} does not resolve${code ? ` (${code})` : ''}`);
  }
  if (addresses.length === 0) throw new UnresolvedHostError(`replyUrl host ${host} does not resolve`);
  for (const { address } of addresses) {
    const refusal = compiledPolicy.addresses.refusal(address);
    if (refusal !== null) throw new BlockedTargetError(refusedText(host, address, refusal), false);
  }
  return addresses;
}

/**
 * Submit-time check of a callback URL: http(s) only, and the host (IP literal, or every address
 * its name resolves to) must be public or allowlisted. Throws GatewayError(400, 'replyUrl …').
 * A name that does not resolve (within submitResolveTimeoutMs) passes unless the policy says
 * refuseUnresolvable; the connect-time guard still checks it on every attempt.
 */
export async function checkCallbackUrl(
  url: string,
  policy: CallbackPolicy | CallbackPolicyInput,
): Promise<void> {
  const compiledPolicy = compile(policy);
  try {
    const shape = checkUrlShape(url, compiledPolicy);
    if (shape.literal === 0)
      await withTimeout(
        resolveAllowed(shape.host, compiledPolicy),
        compiledPolicy.submitResolveTimeoutMs,
        shape.host,
      );
  } catch (err) {
    if (err instanceof UnresolvedHostError && !compiledPolicy.refuseUnresolvable) return;
    if (err instanceof BlockedTargetError) throw new GatewayError(400, err.message);
    throw err;
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, host: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UnresolvedHostError(`replyUrl host ${host} did not resolve within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
/** The `lookup` option of net.connect / tls.connect (and so of undici's `connect` options). */
export type ConnectLookup = (
  hostname: string,
  options: LookupOneOptions | LookupAllOptions,
  callback: LookupCallback,
) => void;

/**
 * A `lookup` for sockets that resolves with the policy's resolver and refuses non-public
 * addresses, so the socket only ever connects to addresses checked here. Handles both call
 * forms net uses: `all: true` (Happy Eyeballs, the default since Node 20) and a single address.
 */
export function guardedLookup(policy: CallbackPolicy | CallbackPolicyInput): ConnectLookup {
  const compiledPolicy = compile(policy);
  return (hostname, options, callback) => {
    const host = stripBrackets(hostname);
    const checked =
      isIP(host) !== 0
        ? Promise.resolve().then(() => {
            const refusal = compiledPolicy.addresses.refusal(host);
            if (refusal !== null) throw new BlockedTargetError(refusedText(host, host, refusal), true);
            return [{ address: host, family: isIP(host) }];
          })
        : resolveAllowed(host, compiledPolicy);
    checked.then(
      (addresses) => {
        const family =
          options.family === 4 || options.family === 'IPv4'
            ? 4
            : options.family === 6 || options.family === 'IPv6'
              ? 6
              : 0;
        const usable = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        if (usable.length === 0) {
          callback(
            Object.assign(new Error(`replyUrl host ${host} has no IPv${family} address`), {
              code: 'ENOTFOUND',
            }),
            [],
          );
          return;
        }
        if (options.all)
          callback(
            null,
            usable.map((a) => ({ address: a.address, family: a.family })),
          );
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, []),
    );
  };
}
