// Moved to the fault-injection harness; kept so existing tests' imports stay valid.
export { PrivateRedis, blackholeServer } from "../../scripts/lib/faults";
