/** GET/POST /v2/account: the tenant's default replyUrl (useapi's account endpoint). */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { errorResponses } from '../schemas.ts';

const AccountSettings = Type.Object({ userId: Type.Integer(), replyUrl: Type.Optional(Type.String()) });

export const tenantRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { tenants } = deps.services;
  const settings = async (userId: number) => {
    const user = await tenants.find(userId);
    return user?.replyUrl ? { userId, replyUrl: user.replyUrl } : { userId };
  };

  app.get(
    '/account',
    { schema: { summary: 'Tenant settings', response: { 200: AccountSettings, ...errorResponses(401) } } },
    async (request) => settings(callerOf(request).userId),
  );

  app.post(
    '/account',
    {
      schema: {
        summary: 'Set (or clear with an empty string) the default replyUrl for all jobs',
        body: Type.Object(
          { replyUrl: Type.String({ maxLength: 1024, pattern: '^(https?://.*)?$' }) },
          { additionalProperties: false },
        ),
        response: { 200: AccountSettings, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { userId } = callerOf(request);
      await tenants.setReplyUrl(userId, request.body.replyUrl === '' ? null : request.body.replyUrl);
      return settings(userId);
    },
  );
};
