/** The CLI's side of the admin API: the address, the bearer token, and errors worth reading. */
import { APPLICATIONS_PATH, type AdminState, readToken, tokenFile } from "../runtime/admin/index.ts";
import { CliError } from "./output.ts";

/** Sends a request to the admin API at `address`; returns the parsed JSON body of a 2xx answer. */
export async function admin<T>(address: string, method: "GET" | "PUT" | "DELETE", body?: unknown, headers: Record<string, string> = {}, path = APPLICATIONS_PATH): Promise<T> {
  let token: string | undefined;
  try {
    token = readToken();
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  let res: Response;
  try {
    res = await fetch(address + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new CliError(
      `cannot reach a tsserve instance at ${address} (${(e as Error).message}); start one with tsserve start, or give its admin address with --address`,
    );
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (res.ok) return data as T;
  const message = (data as { error?: string } | undefined)?.error ?? (text || res.statusText);
  if (res.status === 401) {
    const hint = token ? "the token does not match the instance's" : `no token found: set TSSERVE_TOKEN or run tsserve start, which writes ${tokenFile()}`;
    throw new CliError(`${address} refused the request (401): ${hint}`);
  }
  throw new CliError(res.status === 400 ? message : `${address} answered ${res.status}: ${message}`);
}

/** The instance's state (status, config, progress). */
export const getState = (address: string): Promise<AdminState> => admin<AdminState>(address, "GET");
