/**
 * `Idempotency-Key` on creates: a client that retries a create (timeout, dropped connection,
 * proxy restart) with the same key gets the first answer back instead of a second paid job.
 *
 * - Scope: the caller's token. Kept `idempotencyTtlMs` (24 h by default), then swept.
 * - Same key, same request (method, route and canonical JSON body): the first answer — status and
 *   body — replayed with `Idempotent-Replayed: true`, without calling PixVerse.
 * - Same key, another request: 422.
 * - While the first request is still running: 409 with Retry-After (the simpler of the two choices:
 *   a waiting second request would hold a connection for as long as PixVerse's deadline, and a client
 *   that timed out once would likely time out again).
 * - Refusals that reserved nothing (400, 401, a 429 or 404 before any slot was taken) leave no row:
 *   the key is claimed in the very transaction that takes the slot or queues the job.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, GatewayError } from '../domain/errors.ts';
import { idKey } from '../domain/jobView.ts';
import type { Job, JobType } from '../domain/job.ts';
import { IdempotencyKeyTaken, type IdempotencyRecord, type KeyClaim } from '../app/jobs.ts';
import { publicJobId } from '../domain/ids.ts';
import type { RouteDeps } from './context.ts';
import { callerOf } from './guards.ts';
import { answerFor } from './outcomes.ts';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const PRINTABLE = /^[\x20-\x7e]{1,255}$/;
/** Seconds a client is told to wait while the first request with its key is still running. */
const IN_FLIGHT_RETRY_AFTER_S = 1;
/**
 * A row with no answer whose job failed without reaching PixVerse: the first request is about to
 * record its error (finish, then record), unless it died in between. Within this grace it is treated
 * as still running.
 */
const UNRECORDED_FAILURE_GRACE_MS = 10_000;

export type CreateAnswer = Record<string, string>;

/** What a create answers for its job: `{ "video_id": … }`, `{ "image_id": … }`, `{ "audio_id": … }`. */
export function createAnswer(job: Job): CreateAnswer {
  return { [idKey(job)]: publicJobId(job) };
}

/** The response key of a create of `type` (for route schemas). */
export function answerKey(type: JobType): string {
  return idKey({ type });
}

/** The header's value, null when absent; 400 when malformed. */
export function idempotencyKeyOf(request: FastifyRequest): string | null {
  const value = request.headers[IDEMPOTENCY_HEADER];
  if (value === undefined) return null;
  if (typeof value !== 'string' || !PRINTABLE.test(value)) {
    throw badRequest('Idempotency-Key header must be one value of 1 to 255 printable ASCII characters');
  }
  return value;
}

/** JSON with object keys sorted at every level: two bodies that differ only in key order match. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function fingerprintOf(method: string, route: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${route}\n${canonicalJson(body ?? null)}`)
    .digest('base64url');
}

/**
 * Runs a create under the request's Idempotency-Key, if it has one. `run` submits the job with the
 * claim (the scheduler writes it with the job) and reports which job holds the key.
 */
export async function idempotentCreate(
  deps: RouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  run: (claim?: KeyClaim) => Promise<Job>,
): Promise<CreateAnswer> {
  const { jobs } = deps.services;
  const key = idempotencyKeyOf(request);
  if (key === null) return createAnswer(await run());
  const { tokenId } = callerOf(request);
  const fingerprint = fingerprintOf(request.method, request.routeOptions.url ?? request.url, request.body);
  const prior = await jobs.idempotencyRecord(tokenId, key);
  if (prior) return replay(deps, reply, prior, fingerprint);

  let holder: number | null = null;
  const idempotency = { key, fingerprint, expiresAt: deps.now() + jobs.idempotencyTtlMs };
  let job: Job;
  try {
    job = await run({ idempotency, onKeyClaimed: (jobId) => (holder = jobId) });
  } catch (err) {
    if (err instanceof IdempotencyKeyTaken) {
      // Another request claimed the key between our look-up and our claim.
      const winner = await jobs.idempotencyRecord(tokenId, key);
      if (winner) return replay(deps, reply, winner, fingerprint);
      throw inFlight();
    }
    const refused = holder === null ? null : answerFor(err);
    if (refused && holder !== null) {
      const body = { error: refused.message, code: refused.status, ...refused.extra };
      await jobs.recordIdempotentAnswer(tokenId, key, holder, {
        status: refused.status,
        body: JSON.stringify(body),
      });
    }
    throw err;
  }
  const answer = createAnswer(job);
  // A job that reached the provider answers for itself: a replay finds the key unanswered and derives
  // this very answer from the job (answerFromJob), so writing it now would cost every keyed create a
  // write transaction that only a retry ever reads. A queued job's id changes once it is dispatched,
  // and a job cancelled during its submit has no upstream id, so their answers are recorded.
  if (holder !== null && job.upstreamId === null) {
    await jobs.recordIdempotentAnswer(tokenId, key, holder, { status: 200, body: JSON.stringify(answer) });
  }
  return answer;
}

function inFlight(): GatewayError {
  return new GatewayError(
    409,
    'A request with this Idempotency-Key is still being processed; retry it later',
    IN_FLIGHT_RETRY_AFTER_S,
  );
}

async function replay(
  deps: RouteDeps,
  reply: FastifyReply,
  record: IdempotencyRecord,
  fingerprint: string,
): Promise<CreateAnswer> {
  if (record.fingerprint !== fingerprint) {
    throw new GatewayError(
      422,
      `Idempotency-Key "${record.key}" was already used for a different request (another route or body); send a new key for a new request`,
    );
  }
  const answer = record.status !== null && record.body !== null ? record : await answerFromJob(deps, record);
  reply.header('Idempotent-Replayed', 'true');
  const body = JSON.parse(answer.body!) as Record<string, unknown>;
  if (answer.status === 200) return body as CreateAnswer;
  const { error, code: _code, ...extra } = body;
  throw new GatewayError(
    answer.status!,
    String(error),
    answer.status === 429 ? IN_FLIGHT_RETRY_AFTER_S : null,
    extra,
  );
}

/**
 * A key whose first answer was never recorded: the first request is still running, or its process
 * died after the job was written. The job then tells what the answer was (or would have been).
 */
async function answerFromJob(
  deps: RouteDeps,
  record: IdempotencyRecord,
): Promise<{ status: number; body: string }> {
  const job = await deps.services.jobs.byRow(record.jobId);
  if (!job || job.state === 'submitting') throw inFlight();
  let answer: { status: number; body: string };
  if (job.state === 'queued' || job.upstreamId !== null) {
    answer = { status: 200, body: JSON.stringify(createAnswer(job)) };
  } else {
    if (deps.now() - record.createdAt < UNRECORDED_FAILURE_GRACE_MS) throw inFlight();
    answer = {
      status: 502,
      body: JSON.stringify({
        error: `The first request with this Idempotency-Key failed: ${job.error ?? 'submit failed'}`,
        code: 502,
      }),
    };
  }
  await deps.services.jobs.recordIdempotentAnswer(record.tokenId, record.key, record.jobId, answer);
  return answer;
}
