// npm run db:seed — idempotent demo data (admin + users from several sign-up sources).
import { seedDemo } from "@/lib/seed/demo";

const r = await seedDemo({ adminEmail: process.env.ADMIN_EMAIL, adminPassword: process.env.ADMIN_PASSWORD });
console.log(
  `seed: ${r.created} created, ${r.total - r.created} already present (admin ${r.adminEmail}: ${r.adminOutcome})`,
);
process.exit(0);
