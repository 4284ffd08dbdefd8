/** Shared TypeBox pieces for route schemas (validation, serialization and OpenAPI). */
import { Type, type TSchema, type TUnsafe } from '@sinclair/typebox';

/** The JSON Schema keywords of a string enum, as a type: what the Fastify type provider reads. */
type StringEnumSchema<T extends readonly string[]> = TUnsafe<T[number]> & { type: 'string'; enum: [...T] };

/**
 * A string enum that validates with a single clear "must be one of" error. Its type spells the
 * schema's keywords because the Fastify type provider infers handler types from them: without,
 * `request.body` would hold `unknown` where the enum's values belong.
 */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: Record<string, unknown> = {},
): StringEnumSchema<T> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options }) as StringEnumSchema<T>;
}

export const ErrorBody = Type.Object(
  { error: Type.String(), code: Type.Integer() },
  { additionalProperties: true, $id: 'ErrorBody' },
);

export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, Type.Ref('ErrorBody')]));

export const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@/]+@[^\\s@/]+$' });

/** Fields every create endpoint accepts (useapi's common fields). */
export const CommonJobFields = {
  email: Type.Optional(Email),
  replyUrl: Type.Optional(Type.String({ maxLength: 1024, pattern: '^https?://' })),
  replyRef: Type.Optional(Type.String({ maxLength: 1024 })),
  maxJobs: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
  /** Also call replyUrl when the job starts generating, not only when it ends. */
  replyProgress: Type.Optional(Type.Boolean()),
  /** Wait in the queue when every slot is busy instead of getting a 429 (default: the tenant's setting). */
  queue: Type.Optional(Type.Boolean()),
  /** Order among this token's queued jobs. */
  priority: Type.Optional(StringEnum(['high', 'normal', 'low'] as const)),
};

/**
 * Headers of a create: an optional Idempotency-Key (see idempotency.ts). The pattern is printable
 * ASCII; other headers pass through.
 */
export const IdempotencyHeaders = Type.Object(
  {
    'idempotency-key': Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' }),
    ),
  },
  { additionalProperties: true },
);

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1200 }) });

export function withCommon<T extends Record<string, TSchema>>(fields: T) {
  return Type.Object({ ...fields, ...CommonJobFields }, { additionalProperties: false });
}
