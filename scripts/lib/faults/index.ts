// Fault-injection harness for the chaos suite and the integration tests: real servers and a
// proxy that can be hung, refused, cut, killed and restarted. No billing logic here.
export { freePort } from "../net";
export { TcpProxy, blackholeServer, type ProxyMode, type ProxyStats, type TcpProxyOptions } from "./tcp-proxy";
export { RedisProcess, PrivateRedis, redisCommand, type RedisProcessOptions } from "./redis-process";
export { PostgresCluster, type PostgresClusterOptions } from "./postgres-cluster";
export { PgliteServer, type PgliteServerOptions } from "./pglite-server";
export { processTree } from "./process-util";
