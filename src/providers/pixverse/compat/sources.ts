/**
 * The video an edit operation works on: `video_id` (a job of this tenant, resolved by the route
 * against the scheduler) or `video_path` (a video uploaded with POST /files). Pure: a `video_id`
 * is only parsed here and returned as a plan; the route looks the job up, checks it is completed,
 * fills the upstream id in and pins the job to that job's account.
 */
import { badRequest } from '../../../domain/errors.ts';
import type { JobRef } from '../../../domain/ids.ts';
import { parsePixverseJobId } from './jobIds.ts';
import type { Json } from '../../../domain/job.ts';
import { accountForFiles, parseFilePath, type FileRef } from './filePaths.ts';
import { exactlyOne } from './rules/common.ts';

/** A source job to resolve: its upstream id goes into `params[param]`, its account runs the job. */
export interface SourcePlan {
  /** Request field naming the job (for errors). */
  field: string;
  /** The id as the client sent it. */
  id: string;
  ref: JobRef;
  /** Platform body field that takes the job's upstream id. */
  param: string;
}

/** An uploaded input and the request field that named it. */
export interface PinnedFile {
  ref: FileRef;
  field: string;
}

export interface VideoSourceBody {
  video_id?: string;
  video_path?: string;
}

/** Parses a useapi video id (raw or percent-encoded); `field` names it in errors. */
export function parseVideoId(id: string, field: string): JobRef {
  const ref = parsePixverseJobId(id);
  if (!ref) throw badRequest(`${field} "${id}" is not a valid video id`);
  if (ref.type !== 'video') throw badRequest(`${field} "${id}" is a ${ref.type} id, not a video id`);
  return ref;
}

/**
 * Reads `video_id` xor `video_path` into `params` (`source_video_id` is filled in by the route,
 * `video_media_id` here). `files` collects the uploaded inputs that pin the account.
 */
export function videoSource(
  body: VideoSourceBody,
  params: { [key: string]: Json },
  files: PinnedFile[],
): SourcePlan | null {
  const which = exactlyOne(body as Record<string, unknown>, 'video_id', 'video_path');
  if (which === 'video_id') {
    const id = body.video_id!;
    return { field: 'video_id', id, ref: parseVideoId(id, 'video_id'), param: 'source_video_id' };
  }
  const file = parseFilePath(body.video_path!, 'video_path', 'video');
  params['video_media_id'] = file.id;
  files.push({ ref: file, field: 'video_path' });
  return null;
}

/** The account pinned by `email` and the uploaded files, checked for agreement (see filePaths). */
export function pinnedAccount(email: string | undefined, files: PinnedFile[]): string | null {
  let pinned = email?.toLowerCase() ?? null;
  for (const { ref, field } of files) pinned = accountForFiles(pinned ?? undefined, [ref], field);
  return pinned;
}

/**
 * Checks that a resolved source job's account agrees with the account the rest of the request
 * pins (by `email` or by uploaded files), and returns the account the job must run on.
 */
export function accountForSource(
  pinned: string | null,
  sourceEmail: string,
  plan: Pick<SourcePlan, 'field'>,
): string {
  if (pinned !== null && pinned !== sourceEmail.toLowerCase()) {
    throw badRequest(
      `${plan.field} names a video of account ${sourceEmail}, but email or an uploaded file of this request names account ${pinned}; operations on an existing video run on the account that made it`,
    );
  }
  return sourceEmail.toLowerCase();
}
