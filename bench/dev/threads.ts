// Dev aid: CPU time of each thread of this process (Linux /proc), so a CPU-per-request figure
// can be split into the main thread, each replica Worker and the GC's helper threads.
import { existsSync, readdirSync, readFileSync } from "node:fs";

const TICK_US = 10_000; // /proc counts in clock ticks of 10 ms (CLK_TCK 100)

/** utime + stime in clock ticks, by "tid:name"; empty where /proc is missing. */
export function threadTimes(): Map<string, number> {
  const times = new Map<string, number>();
  if (!existsSync("/proc/self/task")) return times;
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      times.set(`${tid}:${name}`, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return times;
}

/** "tid:name=X us" per thread that used more than a trace of CPU between `before` and `after`, per one of `count`. */
export function perThread(before: Map<string, number>, after: Map<string, number>, count: number): string {
  const parts: string[] = [];
  for (const [thread, ticks] of after) {
    const used = ticks - (before.get(thread) ?? 0);
    if (used > 2) parts.push(`${thread}=${((used * TICK_US) / count).toFixed(1)}us`);
  }
  return parts.join(" ");
}
