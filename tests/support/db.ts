import pg from "pg";

import { testEnv } from "./test-env";

/** A raw pg client on the test database, for assertions independent of the code under test. */
export async function rawDb(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: testEnv().databaseUrl });
  await c.connect();
  return c;
}
