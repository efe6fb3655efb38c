import type { UserGroup } from "@/lib/gateway/context";

/** A user's gateway groups (user_allowed_groups) as chips; exclusive ones marked. */
export function UserGroups({
  groups,
  none,
  exclusive,
  exclusiveTitle,
}: {
  groups: UserGroup[];
  none: string;
  exclusive: string;
  exclusiveTitle: string;
}) {
  if (groups.length === 0) return <span className="text-slate-400">{none}</span>;
  return (
    <ul className="flex max-w-64 flex-wrap gap-1">
      {groups.map((g) => (
        <li
          key={g.id}
          data-group={g.name}
          className="rounded bg-slate-100 px-1.5 py-0.5 text-xs whitespace-nowrap text-slate-700"
          title={g.exclusive ? exclusiveTitle : undefined}
        >
          {g.name}
          {g.exclusive ? <span className="ml-1 text-[10px] text-amber-800 uppercase">{exclusive}</span> : null}
        </li>
      ))}
    </ul>
  );
}
