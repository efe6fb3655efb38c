import Link from "next/link";

import "./globals.css";

// Requests outside any locale (the proxy normally adds one) end here.
export default function RootNotFound() {
  return (
    <html lang="en">
      <body className="grid min-h-screen place-items-center p-8">
        <main className="text-center">
          <h1 className="text-2xl font-semibold">404 · Page not found · 页面不存在</h1>
          <p className="mt-4">
            <Link className="text-blue-700 underline" href="/">
              Quota Console
            </Link>
          </p>
        </main>
      </body>
    </html>
  );
}
