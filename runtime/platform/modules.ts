/**
 * Which module files this thread has loaded, on Bun: it keeps ES modules in `require.cache`
 * too (Bun 1.4). Deno keeps no such list (see deno/modules.ts).
 */
export function loadedModuleFiles(): string[] {
  return Object.keys(require.cache);
}
