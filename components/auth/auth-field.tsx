"use client";

/**
 * One labelled input of the sign-in / register forms: the field's error (already translated)
 * replaces its hint and is announced through aria-describedby.
 */
export function AuthField({
  name,
  label,
  autoComplete,
  defaultValue,
  error,
  hint,
}: {
  name: "email" | "password";
  label: string;
  autoComplete: string;
  defaultValue?: string;
  error?: string | null;
  hint?: string | null;
}) {
  const note = error ?? hint ?? null;
  return (
    <label className="mt-4 block text-sm font-medium">
      {label}
      <input
        className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 shadow-sm focus:border-blue-600 focus:ring-2 focus:ring-blue-600/30 focus:outline-none aria-[invalid=true]:border-red-600"
        name={name}
        type={name === "email" ? "email" : "password"}
        autoComplete={autoComplete}
        defaultValue={defaultValue}
        required
        aria-invalid={error ? true : undefined}
        aria-describedby={note ? `${name}-hint` : undefined}
      />
      {note ? (
        <span id={`${name}-hint`} className={`mt-1 block text-sm ${error ? "text-red-700" : "text-slate-500"}`}>
          {note}
        </span>
      ) : null}
    </label>
  );
}
