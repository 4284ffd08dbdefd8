/** The one path from a mapped create request to a scheduled job, shared by every create route. */
import type { FastifyRequest } from 'fastify';
import type { CommonFields, KeyClaim } from '../app/jobs.ts';
import type { JobType, Json, UpstreamRequest } from '../domain/job.ts';
import type { RouteDeps } from './context.ts';
import { callerOf } from './guards.ts';

export type { CommonFields };

/** A create body: useapi's common fields (schemas.ts CommonJobFields) and the operation's own. */
export type CreateBody = CommonFields & { [key: string]: Json };

export function submitJob(
  deps: RouteDeps,
  request: FastifyRequest,
  body: CreateBody,
  type: JobType,
  mapped: { upstream: UpstreamRequest; email: string | null },
  key?: KeyClaim,
) {
  const caller = callerOf(request);
  return deps.services.jobs.submit(
    {
      userId: caller.userId,
      tokenId: caller.tokenId,
      type,
      upstream: mapped.upstream,
      email: mapped.email,
      body,
    },
    key,
  );
}
