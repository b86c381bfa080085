// The POS is built into dist/pos and served by the edge under /pos/.
import { defineConfig } from "vite";

export default defineConfig({
  root: "pos",
  base: "/pos/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "../dist/pos", emptyOutDir: true, target: "es2022" },
});
