/**
 * The callback delivery log and signing secret, per tenant (registered under /v2, user auth):
 *   GET  /callbacks/deliveries?job=&state=&since=&limit=   newest first
 *   GET  /callbacks/deliveries/:id                          one delivery, with its body
 *   POST /callbacks/deliveries/:id/redeliver                a dead or delivered one again
 *   POST /callbacks/redeliver {since}                       every dead one since a time
 *   GET  /callbacks/secret                                  the signing secret(s), for receivers
 *   POST /callbacks/secret/rotate                           a new secret; the old one signs 24 h more
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DELIVERY_STATES, type Delivery } from '../../app/callbackLog.ts';
import type { User } from '../../app/tenants.ts';
import { ROTATION_GRACE_MS } from '../../callbacks/secrets.ts';
import { webhookId } from '../../callbacks/signing.ts';
import { badRequest, notFound } from '../../domain/errors.ts';
import { parsePixverseJobId } from '../../providers/pixverse/compat/jobIds.ts';
import type { Job, Json } from '../../domain/job.ts';
import { isoUtc } from '../../domain/time.ts';
import { servicesOf, type AppDeps, type RouteDeps } from '../context.ts';
import { callerOf } from '../guards.ts';
import { errorResponses, StringEnum } from '../schemas.ts';

/**
 * Route deps, or the engine parts of an app that registers these routes itself (the services are
 * then built from them; the deliverer among them is woken after a redelivery).
 */
export type CallbackRouteDeps = RouteDeps | AppDeps;

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(schema: T) =>
  Type.Union([schema, Type.Null()]);

const DeliveryView = Type.Object(
  {
    id: Type.Integer(),
    /** The webhook-id header of its attempts (receivers dedupe on it). */
    webhookId: Type.String(),
    jobId: Type.String(),
    event: StringEnum(['final', 'progress'] as const),
    seq: Type.Integer(),
    url: Type.String(),
    state: StringEnum(DELIVERY_STATES),
    attempts: Type.Integer(),
    lastStatus: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    nextAttemptAt: Nullable(Type.String()),
    createdAt: Type.String(),
    deliveredAt: Nullable(Type.String()),
  },
  { additionalProperties: false },
);
const DeliveryDetail = Type.Object(
  { ...DeliveryView.properties, body: Type.Object({}, { additionalProperties: true }) },
  { additionalProperties: false },
);
const DeliveryParams = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 40,
    description: 'delivery id (42) or its webhook-id (msg_42)',
  }),
});
const IsoTime = Type.String({ maxLength: 40, description: 'ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z' });
const ListQuery = Type.Object(
  {
    job: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1200,
        description: 'public job id (video_id, image_id or audio_id)',
      }),
    ),
    state: Type.Optional(StringEnum(DELIVERY_STATES)),
    since: Type.Optional(IsoTime),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
const SecretView = Type.Object(
  {
    secret: Type.String({
      description: 'Standard Webhooks secret (whsec_…); verify webhook-signature with it',
    }),
    previousSecret: Type.Optional(Type.String()),
    previousValidUntil: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** Parses an ISO 8601 date-time named `field`; the error says which field and what is expected. */
export function parseIsoTime(text: string, field: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (!Number.isFinite(ms))
    throw badRequest(`${field} must be an ISO 8601 date-time such as 2025-01-31T12:00:00Z, got "${text}"`);
  return ms;
}

function parseDeliveryId(text: string): number {
  const match = /^(?:msg_)?(\d{1,15})$/.exec(text.trim());
  if (!match)
    throw badRequest(`id "${text}" is not a delivery id (a number such as 42, or its webhook-id msg_42)`);
  return Number(match[1]);
}

function secretView(user: User, now: number): typeof SecretView.static {
  const view: typeof SecretView.static = { secret: user.webhookSecret };
  if (user.webhookSecretPrev && user.webhookSecretPrevUntil !== null && user.webhookSecretPrevUntil > now) {
    view.previousSecret = user.webhookSecretPrev;
    view.previousValidUntil = isoUtc(user.webhookSecretPrevUntil);
  }
  return view;
}

export const callbackRoutes: FastifyPluginAsyncTypebox<CallbackRouteDeps> = async (app, deps) => {
  const { callbacks, jobs } = servicesOf(deps);
  const { now } = deps;

  const view = (d: Delivery, ids: Map<number, string>): typeof DeliveryView.static => ({
    id: d.id,
    webhookId: webhookId(d.id),
    jobId: ids.get(d.jobId)!,
    event: d.event,
    seq: d.seq,
    url: d.url,
    state: d.state,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    nextAttemptAt: d.state === 'pending' && d.nextAttemptAt !== null ? isoUtc(d.nextAttemptAt) : null,
    createdAt: isoUtc(d.createdAt),
    deliveredAt: d.deliveredAt === null ? null : isoUtc(d.deliveredAt),
  });

  async function detail(userId: number, id: number) {
    const { delivery, jobIds } = await callbacks.get(userId, id);
    let body: { [key: string]: Json } = {};
    try {
      body = JSON.parse(delivery.body) as { [key: string]: Json };
    } catch {
      body = { raw: delivery.body };
    }
    return { ...view(delivery, jobIds), body };
  }

  app.get(
    '/callbacks/deliveries',
    {
      schema: {
        summary: 'Callback deliveries, newest first (the delivery log)',
        querystring: ListQuery,
        response: {
          200: Type.Object({ deliveries: Type.Array(DeliveryView) }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const { userId } = callerOf(request);
      const { job: jobText, state, since, limit } = request.query;
      let job: Job | null = null;
      if (jobText !== undefined) {
        const ref = parsePixverseJobId(jobText);
        if (!ref) throw badRequest(`job "${jobText}" is not a valid job id`);
        job = await jobs.find(userId, ref);
        if (!job) throw notFound(`job ${jobText} not found`);
      }
      const page = await callbacks.list(userId, {
        limit: limit ?? 50,
        ...(job ? { job } : {}),
        ...(state ? { state } : {}),
        ...(since !== undefined ? { since: parseIsoTime(since, 'since') } : {}),
      });
      return { deliveries: page.deliveries.map((d) => view(d, page.jobIds)) };
    },
  );

  app.get(
    '/callbacks/deliveries/:id',
    {
      schema: {
        summary: 'One callback delivery with its body',
        params: DeliveryParams,
        response: { 200: DeliveryDetail, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => detail(callerOf(request).userId, parseDeliveryId(request.params.id)),
  );

  app.post(
    '/callbacks/deliveries/:id/redeliver',
    {
      schema: {
        summary: 'Deliver a dead (or already delivered) callback again, from its first attempt',
        params: DeliveryParams,
        response: { 200: DeliveryDetail, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const { userId } = callerOf(request);
      const id = parseDeliveryId(request.params.id);
      await callbacks.redeliver(userId, id);
      return detail(userId, id);
    },
  );

  app.post(
    '/callbacks/redeliver',
    {
      schema: {
        summary: 'Deliver again every dead callback created since a time',
        body: Type.Object({ since: IsoTime }, { additionalProperties: false }),
        response: { 200: Type.Object({ redelivered: Type.Integer() }), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { userId } = callerOf(request);
      return {
        redelivered: await callbacks.redeliverSince(userId, parseIsoTime(request.body.since, 'since')),
      };
    },
  );

  app.get(
    '/callbacks/secret',
    {
      schema: {
        summary: 'The secret callbacks are signed with (Standard Webhooks)',
        response: { 200: SecretView, ...errorResponses(401) },
      },
    },
    async (request) => secretView(await callbacks.secret(callerOf(request).userId), now()),
  );

  app.post(
    '/callbacks/secret/rotate',
    {
      schema: {
        summary: `A new signing secret; callbacks carry signatures with both for ${ROTATION_GRACE_MS / 3_600_000} h`,
        response: { 200: SecretView, ...errorResponses(401) },
      },
    },
    async (request) => secretView(await callbacks.rotate(callerOf(request).userId), now()),
  );
};
