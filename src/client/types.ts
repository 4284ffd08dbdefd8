/**
 * Request and answer types of the gateway's routes, taken from the route schemas themselves so
 * the client cannot drift from what the server validates and serializes.
 */
import type { Static } from '@sinclair/typebox';
import type { AccountBody, AccountDeleted, AccountView } from '../http/routes/accounts.ts';
import type { CreatedTenant, CreatedToken, TenantView, TokenView } from '../http/routes/admin.ts';
import type { AvailableRow, AvailableView, ExecutingItem, QueuedItem } from '../http/routes/scheduler.ts';
import type { VideoCreateBody } from '../providers/pixverse/compat/videoCreate.ts';
import type { ErrorBody } from '../http/schemas.ts';
import type { JobType, Json } from '../domain/job.ts';

export type { VideoCreateBody, JobType, Json };
/**
 * An image-output effect template (`template_type: 2` in `GET /videos/effects`): created through
 * POST /videos/create, answered with `image_id`. PixVerse's Platform API has no text-to-image.
 */
export type ImageTemplateBody = Omit<VideoCreateBody, 'template_id' | 'first_frame_path'> & {
  template_id: NonNullable<VideoCreateBody['template_id']>;
  first_frame_path: string;
};
export type AccountInput = Static<typeof AccountBody>;
export type Account = Static<typeof AccountView>;
export type AccountRemoval = Static<typeof AccountDeleted>;
export type Tenant = Static<typeof TenantView>;
export type NewTenant = Static<typeof CreatedTenant>;
export type Token = Static<typeof TokenView>;
export type NewToken = Static<typeof CreatedToken>;
export type Available = Static<typeof AvailableView>;
export type AvailableAccount = Static<typeof AvailableRow>;
export type ExecutingJob = Static<typeof ExecutingItem>;
export type QueuedJob = Static<typeof QueuedItem>;
export type ErrorAnswer = Static<typeof ErrorBody>;

/**
 * GET /videos|images|music/{id}: useapi's open-ended job document (its keys carry the type's
 * prefix, e.g. `video_status_name`), read through `jobStatus`.
 */
export type JobDocument = { [key: string]: Json };

/** An uploaded file: `path` goes into `first_frame_path` / `image_path_1`. */
export interface UploadedFile {
  path: string;
  url: string | null;
}
