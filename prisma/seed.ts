// npm run db:seed — idempotent demo data (admin + users from several sign-up sources).
import { seedDemo } from "@/lib/seed/demo";
import { seedGatewayDemo } from "@/lib/seed/gateway-demo";

const r = await seedDemo({ adminEmail: process.env.ADMIN_EMAIL, adminPassword: process.env.ADMIN_PASSWORD });
console.log(
  `seed: ${r.created} created, ${r.total - r.created} already present (admin ${r.adminEmail}: ${r.adminOutcome})`,
);
// `npm run demo -- --attached` only: the gateway's own rows around the demo users (its throwaway database).
if (process.env.SEED_GATEWAY_DEMO === "1" && process.env.GATEWAY_DATABASE === "attached") {
  const g = await seedGatewayDemo();
  console.log(
    g.created ? `seed: gateway context added (${g.usageLogs} usage_logs rows)` : "seed: gateway context present",
  );
}
process.exit(0);
