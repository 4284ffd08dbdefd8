/**
 * Paths returned by POST /files. PixVerse Platform media ids belong to the API key that
 * uploaded them, so a path names its account too; jobs using it run on that account.
 */
import { badRequest } from '../../../domain/errors.ts';

export type MediaKind = 'image' | 'video' | 'audio';

export interface FileRef {
  kind: MediaKind;
  id: string;
  email: string;
}

const PATTERN = /^pixgate:(image|video|audio):(\d{1,30}):(.+)$/;

export function formatFilePath(kind: MediaKind, id: string, email: string): string {
  return `pixgate:${kind}:${id}:${email}`;
}

/** Parses a path from POST /files; `field` names the request field in errors. */
export function parseFilePath(path: string, field: string, expected: MediaKind): FileRef {
  const match = PATTERN.exec(path);
  if (!match) throw badRequest(`${field} must be a path returned by POST /files`);
  const ref: FileRef = { kind: match[1] as MediaKind, id: match[2]!, email: match[3]! };
  if (ref.kind !== expected) throw badRequest(`${field} must be an uploaded ${expected}, not a ${ref.kind}`);
  return ref;
}

/** The account a job must run on given the files it uses and an optional pinned email. */
export function accountForFiles(pinned: string | undefined, files: FileRef[], field: string): string | null {
  // Emails are case-insensitive everywhere else (accounts are keyed lowercased), and file
  // paths carry the lowercased address, so compare lowercased.
  let email = pinned?.toLowerCase() ?? null;
  for (const file of files) {
    if (email !== null && email !== file.email) {
      throw badRequest(
        `${field} was uploaded through account ${file.email}; PixVerse media ids are per account, so the job must run there`,
      );
    }
    email = file.email;
  }
  return email;
}
