/** Elysia, for the virtual "elysia" module of builtins.ts inside the compiled binary (bundled by name there). */
export * from "elysia";
export { default } from "elysia";
