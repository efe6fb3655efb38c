// One formatter for the tree (code-shape review §4.5). `npm run check` and CI run `format:check`.
// printWidth 120: the tree's existing width (≈4% of lines are over 120), so formatting moved little.
/** @type {import("prettier").Config} */
const config = {
  printWidth: 120,
  plugins: ["@ianvs/prettier-plugin-sort-imports", "prettier-plugin-tailwindcss"],
  // Packages, then `@/` modules, then relative ones; `server-only` stays first where it is used.
  importOrder: ["^server-only$", "", "<BUILTIN_MODULES>", "<THIRD_PARTY_MODULES>", "", "^@/(.*)$", "", "^[./]"],
  importOrderTypeScriptVersion: "5.9.3",
  tailwindStylesheet: "./app/globals.css",
  tailwindFunctions: ["cn", "clsx"],
};

export default config;
