/**
 * The client's `x-request-id`, when it is fit to use: it goes into logs, the response header
 * and every downstream call, so an id longer than 128 characters or holding anything but
 * printable ASCII (control characters, line breaks, non-ASCII) is replaced by a fresh one.
 */
export const MAX_REQUEST_ID_LENGTH = 128;

/** `id` when it is 1 to 128 printable ASCII characters, else undefined (make a fresh one). */
export function acceptedRequestId(id: string | undefined): string | undefined {
  if (!id || id.length > MAX_REQUEST_ID_LENGTH) return undefined;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return undefined;
  }
  return id;
}
