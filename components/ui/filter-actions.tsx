/** A GET filter form's submit button and its "clear" link back to the unfiltered list. */
export function FilterActions({ apply, clear }: { apply: string; clear: string }) {
  return (
    <>
      <button
        type="submit"
        className="rounded-md bg-slate-900 px-3 py-1.5 text-sm font-medium text-white hover:bg-slate-700"
      >
        {apply}
      </button>
      <a href="?" className="px-2 py-1.5 text-sm text-slate-600 underline">
        {clear}
      </a>
    </>
  );
}
