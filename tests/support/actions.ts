import fs from "node:fs";

/** Server actions of the production build, from Next's manifest (id, export name, a page that loads it). */
type ActionEntry = { exportedName: string; filename: string; workers: Record<string, unknown> };

/** `file`: the source file that exports it (repository-relative), e.g. lib/actions/users.ts. */
export type BuiltAction = { id: string; name: string; page: string; file: string };

export function builtActions(): BuiltAction[] {
  const manifest = JSON.parse(fs.readFileSync(".next/server/server-reference-manifest.json", "utf8")) as {
    node: Record<string, ActionEntry>;
  };
  return Object.entries(manifest.node).map(([id, a]) => ({
    id,
    name: a.exportedName,
    file: a.filename,
    // Next only runs an action posted to a page whose bundle has it.
    page: Object.keys(a.workers)[0]
      .replace(/^app/, "")
      .replace(/\/page$/, "")
      .replace("[locale]", "en")
      .replace(/\/\([^)]+\)/g, ""),
  }));
}

export function builtAction(name: string): BuiltAction {
  const a = builtActions().find((x) => x.name === name);
  if (!a) throw new Error(`action ${name} is not in the build`);
  return a;
}

/**
 * Call a server action the way the browser does (React's reply encoding of JSON arguments).
 * `body` is the action's own return value (row 1 of the RSC payload); `raw` the whole response.
 */
export async function callAction(base: string, action: BuiltAction, args: unknown[] | string, cookie?: string) {
  const res = await fetch(`${base}${action.page}`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "Next-Action": action.id,
      "Content-Type": "text/plain;charset=UTF-8",
      Accept: "text/x-component",
      Origin: base,
      ...(cookie ? { Cookie: cookie } : {}),
    },
    body: typeof args === "string" ? args : JSON.stringify(args),
  });
  const raw = await res.text();
  const body =
    raw
      .split("\n")
      .find((l) => l.startsWith("1:"))
      ?.slice(2) ?? "";
  return {
    status: res.status,
    body,
    raw,
    contentType: res.headers.get("content-type"),
    setCookies: res.headers.getSetCookie(),
  };
}

/**
 * Call a form action the way `useActionState` does: React's reply encoding of `[prevState,
 * formData]` as multipart — the form's fields under `_1_<name>`, row 0 the arguments referencing
 * them (`$K1`). `headers` are added as sent (e.g. a different client address).
 */
export async function callFormAction(
  base: string,
  action: BuiltAction,
  fields: Record<string, string>,
  opts: { cookie?: string; prevState?: unknown; headers?: Record<string, string> } = {},
) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(`_1_${k}`, v);
  form.append("0", JSON.stringify([opts.prevState ?? {}, "$K1"]));
  const res = await fetch(`${base}${action.page}`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "Next-Action": action.id,
      Accept: "text/x-component",
      Origin: base,
      ...(opts.cookie ? { Cookie: opts.cookie } : {}),
      ...opts.headers,
    },
    body: form,
  });
  const raw = await res.text();
  const body =
    raw
      .split("\n")
      .find((l) => l.startsWith("1:"))
      ?.slice(2) ?? "";
  return { status: res.status, body, raw, headers: res.headers };
}
