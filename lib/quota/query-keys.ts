/** React Query keys of the quota reads (shared by server prefetch and client hooks). */
export const myQuotaKeys = { all: ["me", "platform-quotas"] as const };
export const MY_QUOTAS_URL = "/api/v1/user/platform-quotas";
