/** Checking a webhook definition the control plane, the options or a handle hands the simulator. */

/** A bad webhook definition: HTTP 400 on the control plane, 409 for an id already taken. */
export class WebhookConfigError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'WebhookConfigError';
  }
}

const ID_TEXT = /^[A-Za-z0-9._:-]{1,64}$/;

/** Validates a definition from the control plane, the options or the handle (plain JS may pass anything). */
export function checkConfig(input: unknown): {
  url: string;
  secret: string | null;
  id: string | null;
  apiKey: string | null;
} {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new WebhookConfigError('body must be a JSON object');
  const fields = input as Record<string, unknown>;
  const url = fields.url;
  if (typeof url !== 'string') throw new WebhookConfigError('url must be a string');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebhookConfigError(`url "${url.slice(0, 200)}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new WebhookConfigError('url must be http(s)');
  const { secret, webhook_id: rawId, api_key: apiKey } = fields;
  if (secret !== undefined && (typeof secret !== 'string' || secret === '' || secret.length > 256)) {
    throw new WebhookConfigError('secret must be a non-empty string of at most 256 characters');
  }
  let id: string | null = null;
  if (rawId !== undefined) {
    id =
      typeof rawId === 'number' && Number.isSafeInteger(rawId) && rawId >= 0
        ? String(rawId)
        : typeof rawId === 'string'
          ? rawId
          : '';
    if (!ID_TEXT.test(id))
      throw new WebhookConfigError(
        'webhook_id must be 1–64 letters, digits or ._:- (or a non-negative integer)',
      );
  }
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.trim() === '')) {
    throw new WebhookConfigError('api_key must be a non-empty string');
  }
  return { url, secret: secret ?? null, id, apiKey: apiKey ?? null };
}
