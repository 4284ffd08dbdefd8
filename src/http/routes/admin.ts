/** Admin routes (admin token only): tenants and their API tokens. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { generateToken, hashToken } from '../../security/tokens.ts';
import { newWebhookSecret } from '../../security/webhookSecret.ts';
import type { AppDeps } from '../context.ts';
import { sendError } from '../errors.ts';
import { requireAdmin } from '../guards.ts';
import { errorResponses } from '../schemas.ts';

const UserParams = Type.Object({ userId: Type.Integer({ minimum: 1 }) });
const TokenParams = Type.Object({ userId: Type.Integer({ minimum: 1 }), tokenId: Type.Integer({ minimum: 1 }) });
const NameBody = Type.Union([Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }), Type.Null()]);
const TokenView = Type.Object({ id: Type.Integer(), label: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String(), revokedAt: Type.Union([Type.String(), Type.Null()]) });

export const adminRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { store, auth, now } = deps;
  app.addHook('onRequest', requireAdmin(auth));

  app.post('/users', {
    schema: {
      summary: 'Create a tenant and its first API token',
      body: Type.Optional(NameBody),
      response: { 201: Type.Object({ userId: Type.Integer(), name: Type.Union([Type.String(), Type.Null()]), token: Type.String() }), ...errorResponses(400, 401) },
    },
  }, async (request, reply) => {
    const name = request.body?.name ?? null;
    const user = await store.createUser(name, now(), newWebhookSecret());
    const token = generateToken(user.id);
    await store.addToken(user.id, hashToken(token), 'initial', now());
    return reply.code(201).send({ userId: user.id, name: user.name, token });
  });

  app.post('/users/:userId/tokens', {
    schema: {
      summary: 'Issue another API token for a tenant',
      params: UserParams,
      body: Type.Optional(Type.Union([Type.Object({ label: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }), Type.Null()])),
      response: { 201: Type.Object({ id: Type.Integer(), token: Type.String() }), ...errorResponses(400, 401, 404) },
    },
  }, async (request, reply) => {
    const { userId } = request.params;
    if (!(await store.getUser(userId))) return sendError(reply, 404, `User ${userId} not found`);
    const token = generateToken(userId);
    const record = await store.addToken(userId, hashToken(token), request.body?.label ?? null, now());
    return reply.code(201).send({ id: record.id, token });
  });

  app.get('/users/:userId/tokens', {
    schema: { summary: "List a tenant's tokens (secrets are never shown again)", params: UserParams, response: { 200: Type.Array(TokenView), ...errorResponses(400, 401, 404) } },
  }, async (request, reply) => {
    const { userId } = request.params;
    if (!(await store.getUser(userId))) return sendError(reply, 404, `User ${userId} not found`);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return (await store.listTokens(userId)).map((t) => ({ id: t.id, label: t.label, createdAt: iso(t.createdAt)!, revokedAt: iso(t.revokedAt) }));
  });

  app.delete('/users/:userId/tokens/:tokenId', {
    schema: { summary: 'Revoke a token', params: TokenParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 404) } },
  }, async (request, reply) => {
    const { userId, tokenId } = request.params;
    if (!(await store.revokeToken(userId, tokenId, now()))) return sendError(reply, 404, `Active token ${tokenId} of user ${userId} not found`);
    auth.forget();
    return reply.code(204).send(null);
  });
};
