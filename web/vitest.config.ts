// Unit tests (vitest) of the front ends' logic: src/**/*.test.ts, in Node.
import { defineConfig } from "vitest/config";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
