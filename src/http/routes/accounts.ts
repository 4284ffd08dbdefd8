/** useapi-compatible account management: POST/GET/DELETE /accounts[/{email}]. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Account } from '../../domain/account.ts';
import { badRequest } from '../../domain/errors.ts';
import { isoUtc } from '../../domain/time.ts';
import type { RouteDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { Email, errorResponses } from '../schemas.ts';

const EmailParams = Type.Object({ email: Type.String({ minLength: 1, maxLength: 254 }) });
export const AccountBody = Type.Object(
  {
    email: Type.Optional(Email),
    apiKey: Type.Optional(Type.String({ minLength: 8, maxLength: 512 })),
    maxJobs: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
    password: Type.Optional(Type.String({ maxLength: 512 })),
    token: Type.Optional(Type.String({ maxLength: 4096 })),
    webhookId: Type.Optional(
      Type.Union(
        [Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' }), Type.Null()],
        {
          description:
            'Gateway extension: the webhook_id of a PixVerse webhook created for this account (platform console → Webhook), whose URL points at <gateway>/upstream/pixverse/webhook. Omit to keep the stored one, null to remove it.',
        },
      ),
    ),
    webhookSecret: Type.Optional(
      Type.Union([Type.String({ minLength: 8, maxLength: 512 }), Type.Null()], {
        description: 'The Secret Key PixVerse signs that webhook with; required with webhookId.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const AccountView = Type.Object(
  {
    email: Type.String(),
    apiKey: Type.String(),
    maxJobs: Type.Integer(),
    state: Type.String(),
    error: Type.Optional(Type.String()),
    cooldownUntil: Type.Optional(Type.String()),
    webhookId: Type.Optional(Type.String()),
    created: Type.String(),
    updated: Type.String(),
  },
  { additionalProperties: false },
);
export const AccountDeleted = Type.Object({
  account: Type.String(),
  deleted: Type.Boolean(),
  cancelled: Type.Integer(),
  remaining: Type.Integer(),
});

/** Paths carry emails raw or percent-encoded; accounts are keyed by the lowercased address. */
export function normalizeEmail(text: string): string {
  let email = text;
  try {
    email = decodeURIComponent(text);
  } catch {
    throw badRequest('email in the path is not valid percent-encoding');
  }
  email = email.trim().toLowerCase();
  if (!/^[^\s@/]+@[^\s@/]+$/.test(email) || email.length > 254)
    throw badRequest(`email "${text}" is not a valid email address`);
  return email;
}

/** The webhook fields of a POST: undefined keeps the stored webhook, null removes it. */
function webhookOf(body: typeof AccountBody.static): { id: string; secret: string } | null | undefined {
  const { webhookId, webhookSecret } = body;
  if (webhookId === undefined && webhookSecret === undefined) return undefined;
  if (webhookId === null || (webhookId === undefined && webhookSecret === null)) {
    if (webhookSecret) throw badRequest('webhookSecret must be omitted or null when webhookId is null');
    return null;
  }
  if (webhookId === undefined) throw badRequest('webhookId is required with webhookSecret');
  if (!webhookSecret) throw badRequest('webhookSecret is required with webhookId');
  return { id: webhookId, secret: webhookSecret };
}

export const accountRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { accounts } = deps.services;

  const view = (account: Account) => {
    const out: Record<string, unknown> = {
      email: account.email,
      apiKey: accounts.maskedKey(account),
      maxJobs: account.maxJobs,
      state: account.state,
      created: isoUtc(account.createdAt),
      updated: isoUtc(account.updatedAt),
    };
    if (account.reason) out['error'] = account.reason;
    if (account.cooldownUntil) out['cooldownUntil'] = isoUtc(account.cooldownUntil);
    if (account.webhookId) out['webhookId'] = account.webhookId;
    return out as typeof AccountView.static;
  };

  app.post(
    '/accounts/:email',
    {
      schema: {
        summary: 'Create or update a PixVerse account (Platform API key)',
        params: EmailParams,
        body: AccountBody,
        response: { 201: AccountView, ...errorResponses(400, 401, 596) },
      },
    },
    async (request, reply) => {
      const { userId } = callerOf(request);
      const email = normalizeEmail(request.params.email);
      const body = request.body;
      if (body.email !== undefined && body.email.toLowerCase() !== email)
        throw badRequest(`email in the body (${body.email}) must match the email in the path (${email})`);
      if (body.apiKey === undefined) {
        if (body.password !== undefined) {
          throw badRequest(
            'Pixgate uses PixVerse Platform API keys, not web passwords: create a key at platform.pixverse.ai and send it as apiKey',
          );
        }
        throw badRequest('apiKey is required');
      }
      if (body.maxJobs === undefined) throw badRequest('maxJobs is required');
      const webhook = webhookOf(body);
      const account = await accounts.save(
        userId,
        email,
        { apiKey: body.apiKey, maxJobs: body.maxJobs, webhook },
        (err) => request.log.warn({ err, email }, 'could not verify the API key with PixVerse'),
      );
      return reply.code(201).send(view(account));
    },
  );

  app.get(
    '/accounts',
    {
      schema: {
        summary: 'All accounts, keyed by email',
        response: { 200: Type.Record(Type.String(), AccountView), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const list = await accounts.list(callerOf(request).userId);
      return Object.fromEntries(list.map((account) => [account.email, view(account)]));
    },
  );

  app.get(
    '/accounts/:email',
    {
      schema: {
        summary: 'One account',
        params: EmailParams,
        response: { 200: AccountView, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) =>
      view(await accounts.get(callerOf(request).userId, normalizeEmail(request.params.email))),
  );

  app.delete(
    '/accounts/:email',
    {
      schema: {
        summary: 'Delete an account; its running jobs are cancelled and their slots freed',
        params: EmailParams,
        response: { 200: AccountDeleted, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const { userId } = callerOf(request);
      const email = normalizeEmail(request.params.email);
      const { cancelled, remaining } = await accounts.remove(userId, email);
      return { account: email, deleted: true, cancelled, remaining };
    },
  );
};
