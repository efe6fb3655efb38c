import "./globals.css";

// Requests outside any locale (the proxy normally adds one) end here. A plain <a>: next/link would
// put its own client chunk into every page's first load (the root not-found boundary's).
export default function RootNotFound() {
  return (
    <html lang="en">
      <body className="grid min-h-screen place-items-center p-8">
        <main className="text-center">
          <h1 className="text-2xl font-semibold">404 · Page not found · 页面不存在</h1>
          <p className="mt-4">
            {/* eslint-disable-next-line @next/next/no-html-link-for-pages -- a full load is right after a 404; see above */}
            <a className="text-blue-700 underline" href="/">
              Quota Console
            </a>
          </p>
        </main>
      </body>
    </html>
  );
}
