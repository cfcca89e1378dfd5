/** tsserve for Deno: what `import ... from "tsserve"` gives (the same SDK as on Bun). */
export * from "./sdk/index.ts";
