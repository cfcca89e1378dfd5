/**
 * Watches a set of files for `run --reload`. It watches their directories, not the files,
 * because editors often save by replacing a file, which ends a watch on the file itself.
 */
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";

export class FileWatcher {
  #watchers: FSWatcher[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Calls `changed` once per burst of changes (`quietMs` after the last one). */
  constructor(
    private readonly changed: () => void,
    private readonly quietMs = 150,
  ) {}

  /** Replaces the watched set. */
  watch(files: Iterable<string>): void {
    this.close();
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const dir = dirname(f);
      if (!byDir.has(dir)) byDir.set(dir, new Set());
      byDir.get(dir)!.add(basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, (_event, name) => {
          if (name && names.has(basename(String(name)))) this.#poke();
        });
        this.#watchers.push(w);
      } catch {
        // A directory that vanished: the next reload reports the missing file.
      }
    }
  }

  #poke(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.changed, this.quietMs);
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }
}

