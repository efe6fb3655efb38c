import createMiddleware from "next-intl/middleware";
import { routing } from "./i18n/routing";

// Locale negotiation only (prefix redirect, Accept-Language, NEXT_LOCALE cookie). Authentication
// is not done here: every page, route handler and action checks the session itself.
export default createMiddleware(routing);

export const config = {
  matcher: "/((?!api|_next|_vercel|.*\\..*).*)",
};
