/** Admin routes (admin token only): tenants and their API tokens. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { User } from '../../app/tenants.ts';
import type { RouteDeps } from '../context.ts';
import { requireAdmin } from '../guards.ts';
import { errorResponses } from '../schemas.ts';

const UserParams = Type.Object({ userId: Type.Integer({ minimum: 1 }) });
const TokenParams = Type.Object({
  userId: Type.Integer({ minimum: 1 }),
  tokenId: Type.Integer({ minimum: 1 }),
});
const NameBody = Type.Union([
  Type.Object(
    { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
export const TokenView = Type.Object({
  id: Type.Integer(),
  label: Type.Union([Type.String(), Type.Null()]),
  weight: Type.Number(),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});
export const TenantView = Type.Object({
  userId: Type.Integer(),
  name: Type.Union([Type.String(), Type.Null()]),
  queueByDefault: Type.Boolean(),
  maxQueueLength: Type.Integer(),
  maxQueueWaitSeconds: Type.Integer(),
});

export const CreatedTenant = Type.Object({
  userId: Type.Integer(),
  name: Type.Union([Type.String(), Type.Null()]),
  token: Type.String(),
});
export const CreatedToken = Type.Object({ id: Type.Integer(), token: Type.String() });

function tenantView(user: User) {
  return {
    userId: user.id,
    name: user.name,
    queueByDefault: user.queueByDefault,
    maxQueueLength: user.maxQueueLength,
    maxQueueWaitSeconds: Math.round(user.maxQueueWaitMs / 1000),
  };
}

export const adminRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { auth } = deps;
  const { tenants } = deps.services;
  app.addHook('onRequest', requireAdmin(auth));

  app.post(
    '/users',
    {
      schema: {
        summary: 'Create a tenant and its first API token',
        body: Type.Optional(NameBody),
        response: { 201: CreatedTenant, ...errorResponses(400, 401) },
      },
    },
    async (request, reply) => {
      const { user, token } = await tenants.create(request.body?.name ?? null);
      return reply.code(201).send({ userId: user.id, name: user.name, token });
    },
  );

  app.get(
    '/users',
    {
      schema: {
        summary: 'All tenants with their queue settings',
        response: { 200: Type.Array(TenantView), ...errorResponses(401) },
      },
    },
    async () => (await tenants.list()).map(tenantView),
  );

  app.patch(
    '/users/:userId',
    {
      schema: {
        summary: "Change a tenant's queue settings",
        params: UserParams,
        body: Type.Object(
          {
            queueByDefault: Type.Optional(Type.Boolean()),
            maxQueueLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000 })),
            maxQueueWaitSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 86_400 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: TenantView, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const { queueByDefault, maxQueueLength, maxQueueWaitSeconds } = request.body;
      const user = await tenants.updateSettings(request.params.userId, {
        ...(queueByDefault !== undefined ? { queueByDefault } : {}),
        ...(maxQueueLength !== undefined ? { maxQueueLength } : {}),
        ...(maxQueueWaitSeconds !== undefined ? { maxQueueWaitMs: maxQueueWaitSeconds * 1000 } : {}),
      });
      return tenantView(user);
    },
  );

  app.get(
    '/users/:userId',
    {
      schema: {
        summary: 'A tenant and its queue settings',
        params: UserParams,
        response: { 200: TenantView, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => tenantView(await tenants.get(request.params.userId)),
  );

  app.patch(
    '/users/:userId/tokens/:tokenId',
    {
      schema: {
        summary: "Set a token's share of its tenant's queue (weighted round-robin)",
        params: TokenParams,
        body: Type.Object(
          { weight: Type.Number({ minimum: 0.01, maximum: 1000 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ id: Type.Integer(), weight: Type.Number() }),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { userId, tokenId } = request.params;
      await tenants.setTokenWeight(userId, tokenId, request.body.weight);
      return { id: tokenId, weight: request.body.weight };
    },
  );

  app.post(
    '/users/:userId/tokens',
    {
      schema: {
        summary: 'Issue another API token for a tenant',
        params: UserParams,
        body: Type.Optional(
          Type.Union([
            Type.Object(
              { label: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
              { additionalProperties: false },
            ),
            Type.Null(),
          ]),
        ),
        response: { 201: CreatedToken, ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { record, token } = await tenants.issueToken(request.params.userId, request.body?.label ?? null);
      return reply.code(201).send({ id: record.id, token });
    },
  );

  app.get(
    '/users/:userId/tokens',
    {
      schema: {
        summary: "List a tenant's tokens (secrets are never shown again)",
        params: UserParams,
        response: { 200: Type.Array(TokenView), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      return (await tenants.tokens(request.params.userId)).map((t) => ({
        id: t.id,
        label: t.label,
        weight: t.weight,
        createdAt: iso(t.createdAt)!,
        revokedAt: iso(t.revokedAt),
      }));
    },
  );

  app.delete(
    '/users/:userId/tokens/:tokenId',
    {
      schema: {
        summary: 'Revoke a token',
        params: TokenParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { userId, tokenId } = request.params;
      await tenants.revokeToken(userId, tokenId);
      auth.forget();
      return reply.code(204).send(null);
    },
  );
};
