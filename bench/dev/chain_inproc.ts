// Dev aid: the seeds' chain (ingress -> adder -> multiplier) with real clients and replicas in
// one thread, joined by MessageChannels: JS cost per chained call against an awaited one, for
// `bun --cpu-prof`. Usage: `bun bench/dev/chain_inproc.ts [chained|awaited]` (both by default).
import { client, connect, replica } from "./inproc.ts";
import { makeHandle } from "../../sdk/handle.ts";
import { installRuntime } from "../../sdk/runtime.ts";

const ingress = client("ingress");
const fromAdder = client("adder");
installRuntime({ call: (t: any, o: any, m: string, a: unknown[]) => ingress.call(t, o, m, a) } as any);
const adder = makeHandle({ appName: "app", deploymentName: "Adder" }) as any;
const multiplier = makeHandle({ appName: "app", deploymentName: "Multiplier" }) as any;
const mult = replica("m1", "Multiplier", { call: (x: number) => x * 2 }, client("multiplier"));
const add = replica("a1", "Adder", { call: (x: number) => x + 1 }, fromAdder);
connect(ingress, "ingress", add, "a1", "Adder");
connect(ingress, "ingress", mult, "m1", "Multiplier");
connect(fromAdder, "adder", mult, "m1", "Multiplier");

const graphs = {
  chained: () => multiplier.remote(adder.remote(5)),
  awaited: async () => multiplier.remote(await adder.remote(5)),
};
const which = (process.argv[2] as keyof typeof graphs | undefined) ?? undefined;
const N = 100_000;
for (let round = 0; round < 4; round++) {
  for (const name of which ? [which] : (["awaited", "chained"] as const)) {
    const t = performance.now();
    for (let i = 0; i < N; i += 256) {
      const answers = await Promise.all(Array.from({ length: 256 }, () => graphs[name]()));
      if (answers[0] !== 12) throw new Error(`bad answer ${answers[0]}`);
    }
    console.log(name, ((performance.now() - t) * 1000 / N).toFixed(2), "us/call");
  }
}
process.exit(0);
