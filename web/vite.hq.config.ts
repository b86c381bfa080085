// The HQ dashboard is built into dist/hq and served by the cloud at / (its files under /hq/).
import { defineConfig } from "vite";

export default defineConfig({
  root: "hq",
  base: "/hq/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "../dist/hq", emptyOutDir: true, target: "es2022" },
});
