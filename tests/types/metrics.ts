// Compile-only checks of serve.metrics and the logging options (run by `tsc --noEmit -p .`; never executed).
import { serve, type LoggingSettings } from "tsserve";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

export async function checks() {
  const text = await serve.metrics();
  type _text = Expect<Equal<typeof text, string>>;

  const hits = new serve.metrics.Counter({ name: "hits_total", help: "Hits", labelNames: ["kind"] });
  hits.inc();
  hits.inc({ kind: "a" });
  hits.inc({ kind: "a" }, 2);
  const depth = new serve.metrics.Gauge({ name: "depth", help: "Depth" });
  depth.set(3);
  const sizes = new serve.metrics.Histogram({ name: "sizes", help: "Sizes", buckets: [1, 10] });
  sizes.observe(4);
  // @ts-expect-error: help is required
  new serve.metrics.Counter({ name: "no_help" });

  const logging: LoggingSettings = { encoding: "JSON", logLevel: "warn", enableAccessLog: false };
  await serve.start({ logging });
  serve.deployment(class A {}, { loggingConfig: { logLevel: "debug", enableAccessLog: true } });
  // @ts-expect-error: not a level
  serve.deployment(class B {}, { loggingConfig: { logLevel: "loud" } });
}
