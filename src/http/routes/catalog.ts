/**
 * Catalogue reads: effect templates, lip-sync voices, restyle presets and an account's features.
 * They take no slot: each is one (or a few) reads of the account's PixVerse catalogue. `email` is
 * required when the tenant has several accounts, as for POST /files.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CatalogKind } from '../../app/providerReads.ts';
import type { Account } from '../../domain/account.ts';
import type { Json } from '../../domain/job.ts';
import type { RouteDeps } from '../context.ts';
import { effectView, pagesFor, restyleView, voiceView } from '../../providers/pixverse/compat/catalogView.ts';
import { callerOf } from '../guards.ts';
import { errorResponses } from '../schemas.ts';
import { normalizeEmail } from './accounts.ts';

/** Provider page size used to serve limit/offset windows. */
const PAGE_SIZE = 100;
/** Voices and restyle presets are short lists; read at most this many pages of them. */
const MAX_LIST_PAGES = 20;

const EmailQuery = Type.Object(
  { email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })) },
  { additionalProperties: false },
);
const EffectsQuery = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
const ItemsReply = Type.Object({
  items: Type.Array(Type.Object({}, { additionalProperties: true })),
  total: Type.Optional(Type.Integer()),
});

export const catalogRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { accounts, provider } = deps.services;

  /** The account a read targets: `email`, or the tenant's only account. */
  const accountFor = (userId: number, emailText: string | undefined): Promise<Account> =>
    accounts.pick(userId, emailText === undefined ? undefined : normalizeEmail(emailText));

  async function readPages(account: Account, kind: CatalogKind, pages: number[], stopShort: boolean) {
    const items: { [key: string]: Json }[] = [];
    let total: number | null = null;
    for (const num of pages) {
      const page = await provider.catalogPage(account, kind, { num, size: PAGE_SIZE });
      items.push(...page.items);
      total = page.total ?? total;
      if (stopShort && page.items.length < PAGE_SIZE) break;
      if (total !== null && num * PAGE_SIZE >= total) break;
    }
    return { items, total };
  }

  async function wholeList(account: Account, kind: CatalogKind) {
    return readPages(
      account,
      kind,
      Array.from({ length: MAX_LIST_PAGES }, (_, i) => i + 1),
      true,
    );
  }

  app.get(
    '/videos/effects',
    {
      schema: {
        summary: 'Effect templates (template_id for POST /videos/create)',
        querystring: EffectsQuery,
        response: { 200: ItemsReply, ...errorResponses(400, 401, 404, 429, 502, 596) },
      },
    },
    async (request) => {
      const account = await accountFor(callerOf(request).userId, request.query.email);
      const limit = request.query.limit ?? 100;
      const offset = request.query.offset ?? 0;
      const { pages, skip } = pagesFor(offset, limit, PAGE_SIZE);
      const { items, total } = await readPages(account, 'effects', pages, true);
      const window = items.slice(skip, skip + limit).map(effectView);
      return total === null ? { items: window } : { items: window, total };
    },
  );

  app.get(
    '/videos/voices',
    {
      schema: {
        summary: 'Lip-sync TTS voices (speaker_id for POST /videos/lipsync)',
        querystring: EmailQuery,
        response: { 200: ItemsReply, ...errorResponses(400, 401, 404, 429, 502, 596) },
      },
    },
    async (request) => {
      const account = await accountFor(callerOf(request).userId, request.query.email);
      const { items } = await wholeList(account, 'voices');
      return { items: items.map(voiceView) };
    },
  );

  app.get(
    '/videos/restyles',
    {
      schema: {
        summary: 'Restyle presets (restyle_id for POST /videos/restyle)',
        querystring: EmailQuery,
        response: { 200: ItemsReply, ...errorResponses(400, 401, 404, 429, 502, 596) },
      },
    },
    async (request) => {
      const account = await accountFor(callerOf(request).userId, request.query.email);
      const { items } = await wholeList(account, 'restyles');
      return { items: items.map(restyleView) };
    },
  );

  app.get(
    '/features',
    {
      schema: {
        summary: "An account's PixVerse credits and how many jobs it runs at once",
        querystring: EmailQuery,
        response: {
          200: Type.Object({
            email: Type.String(),
            account_id: Type.String(),
            credit_monthly: Type.Number(),
            credit_package: Type.Number(),
            gen_simultaneously: Type.Integer(),
          }),
          ...errorResponses(400, 401, 404, 429, 502, 596),
        },
      },
    },
    async (request) => {
      const account = await accountFor(callerOf(request).userId, request.query.email);
      const balance = await provider.balance(account);
      return {
        email: account.email,
        account_id: balance.accountId,
        credit_monthly: balance.creditMonthly,
        credit_package: balance.creditPackage,
        // The Platform does not report a plan's concurrency; this is the account's maxJobs here.
        gen_simultaneously: account.maxJobs,
      };
    },
  );
};
