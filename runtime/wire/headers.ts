/**
 * HTTP headers as they cross threads: a plain object (one JSON-friendly value, cheap to send
 * in a JSON batch), or a list of pairs when a response repeats a name (set-cookie).
 */

export type HeaderData = Record<string, string> | [string, string][];

/** A request's headers as an object (names are lower case). */
export function headersToObject(headers: Headers): Record<string, string> {
  // Bun's Headers#toJSON is several times faster than iterating; elsewhere, iterate.
  const toJSON = (headers as unknown as { toJSON?: () => Record<string, string> }).toJSON;
  return toJSON ? toJSON.call(headers) : Object.fromEntries(headers);
}

/** A response's headers: an object, or pairs when set-cookie repeats. */
export function responseHeaderData(headers: Headers): HeaderData {
  return headers.getSetCookie().length > 1 ? [...headers] : headersToObject(headers);
}

/** Response init headers with the request id added. */
export function withRequestId(headers: HeaderData, requestId: string): Record<string, string> | Headers {
  if (Array.isArray(headers)) {
    const h = new Headers(headers);
    h.set("x-request-id", requestId);
    return h;
  }
  headers["x-request-id"] = requestId;
  return headers;
}
