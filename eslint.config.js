// Lint over src/ and test/ with type information. The type-checked rules switched on are the
// promise rules: in a worker loop a dropped promise is a lost delivery (no-floating-promises),
// an async callback where a sync one is expected drops its rejection (no-misused-promises), and
// awaiting a non-promise hides a missing call (await-thenable). typescript-eslint's full
// type-checked set is not used: its no-unsafe-* rules flag every read of an HTTP test's
// `response.json()` (typed any by light-my-request), some 230 findings that would buy nothing.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "dashboard/**", "coverage/**", "**/*.mjs", "eslint.config.js"] },
  {
    files: ["**/*.ts"],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { project: "./tsconfig.eslint.json", tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      // `const { secret: _secret, ...rest } = x` drops a field on purpose.
      "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^_", argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
);
