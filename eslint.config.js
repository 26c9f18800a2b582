// Flat config: typescript-eslint's recommended rules on every TypeScript file.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "src/api/schema.gen.ts", "data/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The answer path of a question: two literal shapes leave their objects alive past the next
    // scavenge on Node 20's V8 (bench/literal-survival.ts; src/advisor/assess.ts explains), which
    // made garbage collection a quarter of a recommendation's CPU. Object.assign onto a fresh or
    // rest object, or the literal written out, instead; a class with prototype getters for laziness.
    files: ["src/advisor/**/*.ts", "src/api/recommendation-view.ts", "src/api/routes/advisor.ts", "src/api/answer-cache.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        { selector: "ObjectExpression > SpreadElement:first-child ~ Property", message: "A spread followed by more properties outlives scavenges on Node 20: use Object.assign or write the literal out (bench/literal-survival.ts)." },
        { selector: "ObjectExpression > Property[kind=/^(get|set)$/]", message: "An object literal with its own accessors outlives scavenges on Node 20: use a class with prototype getters (bench/literal-survival.ts)." },
      ],
    },
  },
  {
    files: ["**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
