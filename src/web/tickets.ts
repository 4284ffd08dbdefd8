/**
 * Stream tickets. A browser's EventSource cannot send an Authorization header, and a bearer
 * token in a URL ends up in access logs and browser history. So the page trades its token
 * (sent as a header) for a ticket: HMAC-signed, naming whose view it opens, valid for
 * TICKET_TTL_MS and accepted once per process. A ticket that leaks from a log is useless
 * seconds later and opens nothing but that read-only stream.
 *
 * The key is derived from the master key every instance shares, so a ticket issued by one
 * instance opens the stream on another behind the same load balancer.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TICKET_TTL_MS = 30_000;

export interface TicketClaims {
  /** The tenant whose view the stream shows. */
  userId: number;
  /** The tenant token it was issued for (null: the admin token); a revoked token ends its streams. */
  tokenId: number | null;
  expiresAt: number;
}

interface Payload {
  u: number;
  t: number | null;
  e: number;
  n: string;
}

export class StreamTickets {
  /** Nonces of tickets already used here, with their expiry, so each opens one stream. */
  private readonly used = new Map<string, number>();

  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  /** A ticket key from the shared master secret; a distinct label keeps it apart from other uses. */
  static keyFrom(secret: string | Buffer): Buffer {
    return createHmac('sha256', secret).update('pixgate dashboard stream ticket v1').digest();
  }

  issue(userId: number, tokenId: number | null): { ticket: string; expiresAt: number } {
    const expiresAt = this.now() + TICKET_TTL_MS;
    const payload: Payload = {
      u: userId,
      t: tokenId,
      e: expiresAt,
      n: randomBytes(12).toString('base64url'),
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { ticket: `${body}.${this.sign(body)}`, expiresAt };
  }

  /** The claims of a valid, unexpired, unused ticket (marking it used), or null. */
  redeem(ticket: string): TicketClaims | null {
    const [body, signature, extra] = ticket.split('.');
    if (!body || !signature || extra !== undefined) return null;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      return null;
    }
    const now = this.now();
    if (typeof payload.e !== 'number' || payload.e <= now || typeof payload.u !== 'number') return null;
    this.forgetExpired(now);
    if (this.used.has(payload.n)) return null;
    this.used.set(payload.n, payload.e);
    return { userId: payload.u, tokenId: payload.t, expiresAt: payload.e };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  private forgetExpired(now: number): void {
    if (this.used.size < 1000) return;
    for (const [nonce, expiresAt] of this.used) if (expiresAt <= now) this.used.delete(nonce);
  }
}
