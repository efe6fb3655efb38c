import { testEnv } from "./test-env";

testEnv(); // fail fast when not started through `npm test`
