/**
 * The live dashboard: its page at `/`, its files under /dashboard/, and the data it reads under
 * /dashboard/api. A tenant token shows that tenant; the admin token lists tenants and tokens and
 * shows any tenant. Pages get one server-sent-events stream each, opened with a short-lived
 * ticket (see web/tickets.ts) because EventSource cannot send an Authorization header.
 */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../domain/errors.ts';
import { loadAssets } from '../../web/assets.ts';
import { DashboardHub } from '../../web/hub.ts';
import { buildSnapshot, DashboardSnapshot } from '../../web/snapshot.ts';
import { SseStream } from '../../web/sseStream.ts';
import { StreamTickets } from '../../web/tickets.ts';
import { Authenticator } from '../auth.ts';
import type { RouteDeps } from '../context.ts';
import { errorResponses } from '../schemas.ts';

/**
 * How often an open stream checks that the token it was opened with is still active: one read
 * of the tenant's few token rows per open page, the same cadence as the hub's backstop refresh.
 */
const TOKEN_RECHECK_MS = 5_000;

type Viewer = { role: 'admin' } | { role: 'tenant'; userId: number; tokenId: number };

const TenantQuery = Type.Object(
  { tenant: Type.Optional(Type.Integer({ minimum: 1, description: 'tenant to show (admin token only)' })) },
  { additionalProperties: false },
);
const Session = Type.Object({
  role: Type.Union([Type.Literal('admin'), Type.Literal('tenant')]),
  userId: Type.Union([Type.Integer(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
});
const TenantList = Type.Object({
  tenants: Type.Array(
    Type.Object({
      userId: Type.Integer(),
      name: Type.Union([Type.String(), Type.Null()]),
      createdAt: Type.Integer(),
      queueByDefault: Type.Boolean(),
      maxQueueLength: Type.Integer(),
      accounts: Type.Integer(),
      running: Type.Integer(),
      queued: Type.Integer(),
      tokens: Type.Array(
        Type.Object({
          id: Type.Integer(),
          label: Type.Union([Type.String(), Type.Null()]),
          weight: Type.Number(),
          createdAt: Type.Integer(),
          revokedAt: Type.Union([Type.Integer(), Type.Null()]),
        }),
      ),
    }),
  ),
});

export const dashboardRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { auth, now } = deps;
  const { dashboard, tenants } = deps.services;
  const assets = loadAssets();
  const tickets = new StreamTickets(deps.streamTicketKey ?? randomBytes(32), now);
  const hub = new DashboardHub(dashboard, app.log, now);
  const streams = new Set<SseStream>();
  // Open streams would hold the server open: end them when the app closes.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });
  app.addHook('onClose', async () => hub.close());

  async function viewerOf(request: FastifyRequest): Promise<Viewer> {
    const token = Authenticator.bearer(request.headers.authorization);
    if (auth.isAdmin(token)) return { role: 'admin' };
    const caller = await auth.user(token);
    if (!caller) throw new GatewayError(401, 'Unauthorized');
    return { role: 'tenant', userId: caller.userId, tokenId: caller.tokenId };
  }

  /** The tenant a viewer looks at: its own, or for the admin the one named by `tenant`. */
  async function tenantOf(viewer: Viewer, tenant: number | undefined): Promise<number> {
    if (viewer.role === 'tenant') {
      if (tenant !== undefined && tenant !== viewer.userId)
        throw new GatewayError(403, `tenant ${tenant} is not yours`);
      return viewer.userId;
    }
    if (tenant === undefined) throw new GatewayError(400, 'tenant is required with the admin token');
    if (!(await dashboard.user(tenant))) throw new GatewayError(404, `tenant ${tenant} not found`);
    return tenant;
  }

  app.get('/', { schema: { hide: true } }, async (request, reply) => sendAsset(request, reply, 'index.html'));
  app.get(
    '/dashboard/:file',
    {
      schema: { hide: true, params: Type.Object({ file: Type.String({ maxLength: 40 }) }) },
    },
    async (request, reply) => {
      if (!assets.has(request.params.file))
        throw new GatewayError(404, `No dashboard file ${request.params.file}`);
      return sendAsset(request, reply, request.params.file);
    },
  );

  function sendAsset(request: FastifyRequest, reply: FastifyReply, name: string) {
    const asset = assets.get(name)!;
    reply
      .header('etag', asset.etag)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');
    if (name === 'index.html') {
      reply
        .header(
          'content-security-policy',
          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        .header('x-frame-options', 'DENY');
    }
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  }

  app.get(
    '/dashboard/api/session',
    {
      schema: {
        summary: 'Who the dashboard is signed in as',
        tags: ['dashboard'],
        response: { 200: Session, ...errorResponses(401) },
      },
    },
    async (request) => {
      const viewer = await viewerOf(request);
      if (viewer.role === 'admin') return { role: 'admin' as const, userId: null, name: null };
      const user = await dashboard.user(viewer.userId);
      return { role: 'tenant' as const, userId: viewer.userId, name: user?.name ?? null };
    },
  );

  app.get(
    '/dashboard/api/snapshot',
    {
      schema: {
        summary: "A tenant's accounts, running jobs, queue, failures, troubled callbacks and last hour",
        tags: ['dashboard'],
        querystring: TenantQuery,
        response: { 200: DashboardSnapshot, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const userId = await tenantOf(await viewerOf(request), request.query.tenant);
      return buildSnapshot(dashboard, hub.history, userId, now());
    },
  );

  app.get(
    '/dashboard/api/tenants',
    {
      schema: {
        summary: 'Every tenant with its tokens and load (admin token)',
        tags: ['dashboard'],
        response: { 200: TenantList, ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      if ((await viewerOf(request)).role !== 'admin')
        throw new GatewayError(403, 'the tenant list needs the admin token');
      const users = await dashboard.users();
      const tenants = await Promise.all(
        users.map(async (user) => {
          const [tokens, loads, queued] = await Promise.all([
            dashboard.tokens(user.id),
            dashboard.accountLoads(user.id),
            dashboard.countQueued(user.id),
          ]);
          return {
            userId: user.id,
            name: user.name,
            createdAt: user.createdAt,
            queueByDefault: user.queueByDefault,
            maxQueueLength: user.maxQueueLength,
            accounts: loads.length,
            running: loads.reduce((sum, load) => sum + load.executing, 0),
            queued,
            tokens: tokens.map((t) => ({
              id: t.id,
              label: t.label,
              weight: t.weight,
              createdAt: t.createdAt,
              revokedAt: t.revokedAt,
            })),
          };
        }),
      );
      return { tenants };
    },
  );

  app.post(
    '/dashboard/api/stream-ticket',
    {
      schema: {
        summary: 'A short-lived, single-use ticket that opens the live stream',
        tags: ['dashboard'],
        body: Type.Optional(Type.Union([TenantQuery, Type.Null()])),
        response: {
          200: Type.Object({ ticket: Type.String(), expiresAt: Type.Integer() }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const viewer = await viewerOf(request);
      const userId = await tenantOf(viewer, request.body?.tenant);
      return tickets.issue(userId, viewer.role === 'tenant' ? viewer.tokenId : null);
    },
  );

  app.get(
    '/dashboard/api/stream',
    {
      schema: {
        summary: 'Live snapshots of a tenant as server-sent events (event: snapshot)',
        tags: ['dashboard'],
        querystring: Type.Object(
          { ticket: Type.String({ minLength: 1, maxLength: 600 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      const claims = tickets.redeem(request.query.ticket);
      if (!claims)
        throw new GatewayError(
          401,
          'the stream ticket is invalid, expired or already used; get a new one from POST /dashboard/api/stream-ticket',
        );
      reply.hijack();
      const stream = new SseStream(reply.raw);
      streams.add(stream);
      const unwatch = hub.watch(claims.userId, stream);
      // A revoked token ends the streams it opened, not only its next request.
      const recheck =
        claims.tokenId === null
          ? null
          : setInterval(async () => {
              try {
                const active = await tenants.activeTokens(claims.userId);
                if (active.some((t) => t.id === claims.tokenId)) return;
                stream.send('signed-out', JSON.stringify({ reason: 'the token was revoked' }));
                stream.end();
              } catch {
                // the store is briefly unavailable: check again next time
              }
            }, TOKEN_RECHECK_MS).unref();
      stream.onClose(() => {
        if (recheck) clearInterval(recheck);
        unwatch();
        streams.delete(stream);
      });
    },
  );
};
