"use client";

import "./globals.css";

// Last-resort boundary when the locale layout itself fails; it cannot use translations.
export default function GlobalError({ reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body className="grid min-h-screen place-items-center p-8">
        <main className="text-center">
          <h1 className="text-2xl font-semibold">Something went wrong · 出错了</h1>
          <button className="mt-6 rounded-md bg-slate-900 px-4 py-2 text-white" onClick={reset}>
            Try again · 重试
          </button>
        </main>
      </body>
    </html>
  );
}
