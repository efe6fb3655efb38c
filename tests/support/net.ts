export { freePort, waitForHealth } from "@/scripts/lib/net";
