/**
 * `pixgate submit video --prompt … [--first-frame file]` and `pixgate submit image --template ID
 * --first-frame file` (an image effect template), each `[--wait] [--download DIR]`.
 * stdout carries only the outcome (the job id, or the result URL when waiting), so scripts can
 * capture it; progress goes to stderr.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import type { PixgateClient } from '../../client/client.ts';
import { download } from '../../client/download.ts';
import type { JobStatus } from '../../client/jobStatus.ts';
import type { ImageTemplateBody, VideoCreateBody } from '../../client/types.ts';
import { clientFor, duration, integer, withConnection, type ConnectionFlags } from './connection.ts';
import { run, UsageError } from './exit.ts';
import { printJson } from './output.ts';
import { Progress } from './progress.ts';

interface SubmitFlags extends ConnectionFlags {
  prompt?: string;
  template?: string;
  firstFrame?: string;
  model?: string;
  quality?: string;
  aspectRatio?: string;
  duration?: number;
  seed?: number;
  negativePrompt?: string;
  email?: string;
  queue?: boolean;
  priority?: 'high' | 'normal' | 'low';
  replyUrl?: string;
  replyRef?: string;
  idempotencyKey?: string;
  wait?: boolean;
  download?: string;
  interval: number;
  timeout?: number;
  json?: boolean;
}

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

export function registerSubmit(program: Command): void {
  const submit = program
    .command('submit')
    .description('create a job; --wait follows it to the end and prints the result URL');
  const common = (command: Command) =>
    withConnection(command)
      .option(
        '--first-frame <file>',
        'image file to start from (uploaded first; the job then runs on the account holding it)',
      )
      .option('--seed <n>', 'random seed', integer('--seed'))
      .option('--email <email>', 'run on this account')
      .option('--queue', 'wait in the gateway queue when every slot is busy instead of failing with 429')
      .addOption(
        new Option('--priority <level>', 'order among this token’s queued jobs').choices([
          'high',
          'normal',
          'low',
        ]),
      )
      .option('--reply-url <url>', 'callback URL for the final state')
      .option('--reply-ref <text>', 'echoed back in the callback')
      .option('--idempotency-key <key>', 'Idempotency-Key for the create (default: a random UUID)')
      .option('--wait', 'follow the job until it is final and print its result URL')
      .option('--download <dir>', 'save the result into this directory (implies --wait)')
      .option(
        '--interval <duration>',
        'time between status reads while waiting (default 2s)',
        duration('--interval'),
        2000,
      )
      .option(
        '--timeout <duration>',
        'give up waiting after this long (the job keeps running)',
        duration('--timeout'),
      )
      .option('--json', 'print JSON: {id} without --wait, the final job document with it');

  common(submit.command('video').description('text- or image-to-video'))
    .requiredOption('--prompt <text>', 'what to generate')
    .option('--model <model>', 'model (default: the gateway default)')
    .option('--quality <quality>', 'e.g. 540p, 720p, 1080p')
    .option('--aspect-ratio <ratio>', 'e.g. 16:9, 1:1')
    .option('--duration <seconds>', 'video length in seconds', integer('--duration', 1))
    .option('--negative-prompt <text>', 'what to avoid')
    .action(
      run(async (flags: SubmitFlags) => {
        const client = clientFor(flags);
        const body: VideoCreateBody = { prompt: flags.prompt ?? '', ...commonFields(flags) };
        if (flags.model !== undefined) body.model = flags.model;
        if (flags.quality !== undefined) body.quality = flags.quality as VideoCreateBody['quality'];
        if (flags.aspectRatio !== undefined)
          body.aspect_ratio = flags.aspectRatio as VideoCreateBody['aspect_ratio'];
        if (flags.duration !== undefined) body.duration = flags.duration;
        if (flags.negativePrompt !== undefined) body.negative_prompt = flags.negativePrompt;
        if (flags.firstFrame !== undefined) {
          const upload = await uploadFrame(client, flags.firstFrame, flags.email);
          body.first_frame_path = upload.path;
        }
        const id = await client.createVideo(body, keyOf(flags));
        await follow(client, id, flags);
      }),
    );

  // PixVerse's Platform API has no text-to-image: images come from image effect templates
  // (`template_type: 2` in `GET /videos/effects`) applied to an uploaded frame.
  common(
    submit
      .command('image')
      .description(
        'an image from an image effect template (see GET /v2/pixverse/videos/effects) and a frame',
      ),
  )
    .requiredOption('--template <id>', 'template_id of an image effect template')
    .option('--prompt <text>', 'optional text for the template')
    .action(
      run(async (flags: SubmitFlags) => {
        if (flags.template === undefined || !/^\d{1,19}$/.test(flags.template))
          throw new UsageError('--template must be a numeric template_id');
        if (flags.firstFrame === undefined)
          throw new UsageError(
            'submit image needs --first-frame <file>: an image template transforms an image',
          );
        const client = clientFor(flags);
        const upload = await uploadFrame(client, flags.firstFrame, flags.email);
        const body: ImageTemplateBody = {
          template_id: flags.template,
          first_frame_path: upload.path,
          ...commonFields(flags),
        };
        if (flags.prompt !== undefined) body.prompt = flags.prompt;
        const id = await client.createImage(body, keyOf(flags));
        await follow(client, id, flags);
      }),
    );
}

/** The fields every create takes; values the gateway validates (an unknown quality is its 400). */
function commonFields(flags: SubmitFlags) {
  const fields: Partial<VideoCreateBody> = {};
  if (flags.seed !== undefined) fields.seed = flags.seed;
  if (flags.email !== undefined) fields.email = flags.email;
  if (flags.queue) fields.queue = true;
  if (flags.priority !== undefined) fields.priority = flags.priority;
  if (flags.replyUrl !== undefined) fields.replyUrl = flags.replyUrl;
  if (flags.replyRef !== undefined) fields.replyRef = flags.replyRef;
  return fields;
}

function keyOf(flags: SubmitFlags) {
  return flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey };
}

/**
 * Uploaded media belongs to one account and pins the job to it, so without --email the file
 * goes to the healthy account with the most free slots right now.
 */
async function uploadFrame(client: PixgateClient, file: string, email: string | undefined) {
  const type = IMAGE_TYPES[extname(file).toLowerCase()];
  if (!type)
    throw new UsageError(`--first-frame must be a ${Object.keys(IMAGE_TYPES).join(', ')} file (got ${file})`);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read --first-frame ${file}: ${(err as Error).message}`);
  }
  let target = email;
  if (target === undefined) {
    const rows = (await client.available()).available;
    const best = [...rows].sort(
      (a, b) => Number(b.state === 'ok') - Number(a.state === 'ok') || b.available - a.available,
    )[0];
    target = best?.email;
  }
  return client.uploadFile(data, type, target);
}

async function follow(client: PixgateClient, id: string, flags: SubmitFlags): Promise<void> {
  if (!flags.wait && flags.download === undefined) {
    if (flags.json) printJson({ id });
    else process.stdout.write(`${id}\n`);
    return;
  }
  process.stderr.write(`submitted ${id}\n`);
  const progress = new Progress();
  let final: JobStatus;
  try {
    final = await client.waitForJob(id, {
      intervalMs: flags.interval,
      ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
      onUpdate: (status) => progress.update(status),
    });
  } finally {
    progress.stop();
  }
  let saved: string | null = null;
  if (flags.download !== undefined) {
    if (!final.url) throw new UsageError(`job ${id} completed without a result URL to download`);
    saved = await download(final.url, flags.download);
    process.stderr.write(`saved ${saved}\n`);
  }
  if (flags.json) printJson({ ...(await client.getJob(id)).document, ...(saved ? { saved } : {}) });
  else process.stdout.write(`${final.url ?? ''}\n`);
}
