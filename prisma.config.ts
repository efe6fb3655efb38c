// Prisma 7 reads its datasource URL from here (not from schema.prisma). It does not load .env by
// itself, hence dotenv. `env()` from prisma/config throws when DATABASE_URL is unset, which would
// break `prisma generate` on a fresh machine, so the URL is read leniently.
import "dotenv/config";

import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations", seed: "tsx --conditions=react-server prisma/seed.ts" },
  datasource: { url: process.env.DATABASE_URL ?? "" },
});
