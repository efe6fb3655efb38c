/**
 * The browser's reader of the console's JSON API. Every route answers the gateway's envelope
 * `{ code, message, data }` (code 0 = success; errors may add `reason`): `apiGet` unwraps `data`,
 * forwards React Query's AbortSignal (a superseded or unmounted query stops its request), and
 * throws an ApiError with the status, the envelope's code and reason otherwise. Client-safe.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | null,
    readonly reason: string | null,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Envelope = { code: number; message?: string; reason?: string; data?: unknown };
const isEnvelope = (v: unknown): v is Envelope =>
  typeof v === "object" && v !== null && typeof (v as { code?: unknown }).code === "number";

/** GET a JSON body as is (for the few routes without the envelope, such as /api/health). */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<{ status: number; body: T | null }> {
  const res = await fetch(url, { cache: "no-store", signal });
  const body = (await res.json().catch(() => null)) as T | null;
  return { status: res.status, body };
}

/** GET an enveloped route and return its `data`; anything else is an ApiError. */
export async function apiGet<T>(url: string, signal?: AbortSignal): Promise<T> {
  const { status, body } = await getJson<unknown>(url, signal);
  if (status >= 200 && status < 300 && isEnvelope(body) && body.code === 0) return body.data as T;
  const env = isEnvelope(body) ? body : null;
  throw new ApiError(status, env?.code ?? null, env?.reason ?? null, env?.message ?? `HTTP ${status}`);
}
