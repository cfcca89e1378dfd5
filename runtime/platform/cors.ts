/** @elysiajs/cors, for the virtual "@elysiajs/cors" module of builtins.ts inside the compiled binary. */
export * from "@elysiajs/cors";
export { default } from "@elysiajs/cors";
