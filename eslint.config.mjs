import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const config = [
  ...nextVitals,
  ...nextTs,
  { ignores: ["node_modules/**", ".next/**", ".data/**", "lib/generated/**", "next-env.d.ts", "test-results/**"] },
  // No import cycles anywhere (code-shape review §1.10: the quota modal imported its opener).
  // eslint-config-next registers the import plugin and the TypeScript resolver (`@/` paths).
  {
    files: ["**/*.{ts,tsx,mjs}"],
    settings: { "import/ignore": ["node_modules"] }, // never parse dependencies (some do not parse)
    rules: { "import/no-cycle": ["error", { ignoreExternal: true }] },
  },
];

export default config;
