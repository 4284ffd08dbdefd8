/** POST /files?email=: raw-body upload of an image, video or audio to a PixVerse account. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { randomUUID } from 'node:crypto';
import { badRequest, GatewayError } from '../../domain/errors.ts';
import type { RouteDeps } from '../context.ts';
import { formatFilePath } from '../../providers/pixverse/compat/filePaths.ts';
import { callerOf } from '../guards.ts';
import { errorResponses } from '../schemas.ts';
import { normalizeEmail } from './accounts.ts';

export const UPLOAD_TYPES = [
  'image/png',
  'image/jpeg',
  'image/webp',
  'image/gif',
  'video/mp4',
  'video/quicktime',
  'video/webm',
  'audio/wav',
  'audio/wave',
  'audio/mpeg',
  'audio/mp4',
];
export const UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024;

const EXTENSIONS: Record<string, string> = {
  png: 'png',
  jpeg: 'jpg',
  webp: 'webp',
  gif: 'gif',
  mp4: 'mp4',
  quicktime: 'mov',
  webm: 'webm',
  mpeg: 'mp3',
  wav: 'wav',
  wave: 'wav',
};

export const fileRoutes: FastifyPluginAsyncTypebox<RouteDeps & { uploadLimitBytes?: number }> = async (
  app,
  deps,
) => {
  const { accounts, provider } = deps.services;
  const uploadLimit = deps.uploadLimitBytes ?? UPLOAD_LIMIT_BYTES;
  // Raw bodies carrying the file's own Content-Type; the route checks the type. Registered in this
  // plugin only, so no other route reads a 50 MB octet-stream body.
  app.addContentTypeParser(
    /^(image|video|audio)\/|^application\/octet-stream/,
    { parseAs: 'buffer', bodyLimit: uploadLimit },
    (_request, body, done) => done(null, body),
  );

  app.post(
    '/files',
    {
      bodyLimit: uploadLimit,
      schema: {
        summary: 'Upload an image, video or audio file (raw body with its Content-Type)',
        querystring: Type.Object(
          { email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({}, { additionalProperties: true }),
          ...errorResponses(400, 401, 404, 415, 422, 502),
        },
      },
    },
    async (request, reply) => {
      const { userId } = callerOf(request);
      const contentType = String(request.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim()
        .toLowerCase();
      if (!UPLOAD_TYPES.includes(contentType))
        throw new GatewayError(415, `Content-Type must be one of: ${UPLOAD_TYPES.join(', ')}`);
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0)
        throw badRequest('the request body must hold the file bytes');

      const email = request.query.email === undefined ? undefined : normalizeEmail(request.query.email);
      const account = await accounts.pick(userId, email);
      const ext = EXTENSIONS[contentType.split('/')[1]!] ?? 'bin';
      const name = `${randomUUID()}.${ext}`;
      const uploaded = await provider.upload(account, body, contentType, name);
      const path = formatFilePath(uploaded.mediaType, uploaded.id, account.email);
      if (uploaded.mediaType !== 'image') return { path, url: uploaded.url };
      const text = JSON.stringify({
        result: [
          {
            id: uploaded.id,
            url: uploaded.url,
            path,
            size: body.length,
            name,
            category: 'image',
            err_msg: '',
          },
        ],
      });
      // useapi documents result[0].id as a number. PixVerse ids may exceed 2^53, so the digits are
      // written as a bare JSON integer rather than through a JS number that would round them.
      const idText = /^\d+$/.test(uploaded.id)
        ? text.replace(`{"id":${JSON.stringify(uploaded.id)}`, `{"id":${uploaded.id}`)
        : text;
      return reply.type('application/json; charset=utf-8').send(idText as never);
    },
  );
};
