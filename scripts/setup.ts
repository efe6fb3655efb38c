// npm run setup — the Debian packages the whole suite uses from the machine (Chromium and CJK fonts
// for e2e, PostgreSQL's initdb and redis-server for throwaway and fault-injected servers). As root it
// installs the missing ones with apt-get; otherwise it prints the command and exits 1. Nothing
// missing: exit 0. `npm test` never installs anything; it points here.
import { run } from "./lib/run";
import { missing, PACKAGES } from "./lib/system-packages";

const todo = missing(Object.values(PACKAGES));
if (todo.length === 0) {
  console.log("[setup] nothing to install: chromium, fonts-noto-cjk, postgresql and redis-server are present");
  process.exit(0);
}
const names = todo.map((p) => p.pkg);
for (const p of todo) console.log(`[setup] missing ${p.pkg}: ${p.why}`);
if (process.getuid?.() !== 0) {
  console.log(`[setup] run as root, or: sudo apt-get install -y --no-install-recommends ${names.join(" ")}`);
  process.exit(1);
}
const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
console.log(`[setup] apt-get install ${names.join(" ")}`);
if ((await run("apt-get", ["update", "-qq"], env)) !== 0) process.exit(1);
if ((await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...names], env)) !== 0) process.exit(1);
const still = missing(todo);
if (still.length) {
  console.error(`[setup] still missing after apt-get: ${still.map((p) => p.pkg).join(", ")}`);
  process.exit(1);
}
console.log("[setup] done");
