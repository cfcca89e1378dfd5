/**
 * Which module files this thread has loaded. Bun keeps ES modules in `require.cache` too
 * (Bun 1.4); a Deno port would track them another way.
 */
export function loadedModuleFiles(): string[] {
  return Object.keys(require.cache);
}
