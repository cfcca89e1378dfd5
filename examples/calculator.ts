// An app made to be configured: examples/config.yaml serves it at /calc with options of its own.
//   curl -X POST http://127.0.0.1:8000/ -d '{"x": 5}'   ->  {"result":12}   ((5 + 1) * 2)
// With a builder argument: tsserve run examples/calculator.ts:build increment=10   ((5 + 10) * 2 = 30);
// with `tsserve run examples/config.yaml` it is at /calc, with factor 3: {"result":18}.
import { serve, type DeploymentHandle } from "tsserve";

export const Adder = serve.deployment(class Adder {
  constructor(private increment: number) {}
  call(x: number): number {
    return x + this.increment;
  }
});

/** Its factor comes from userConfig, so a config can change it without restarting the replica. */
export const Multiplier = serve.deployment(
  class Multiplier {
    factor = 1;
    reconfigure(config: { factor: number }): void {
      this.factor = config.factor;
    }
    call(x: number): number {
      return x * this.factor;
    }
  },
  { userConfig: { factor: 2 } },
);

export const Calculator = serve.deployment(class Calculator {
  constructor(
    private adder: DeploymentHandle<typeof Adder>,
    private multiplier: DeploymentHandle<typeof Multiplier>,
  ) {}
  async call(request: Request): Promise<{ result: number }> {
    const { x } = (await request.json()) as { x: number };
    return { result: await this.multiplier.remote(this.adder.remote(x)) };
  }
});

export const app = Calculator.bind(Adder.bind(1), Multiplier.bind());

/** A builder: the config's `args` (or `key=value` on the command line) arrive here as strings. */
export function build(args: { increment?: string }) {
  return Calculator.bind(Adder.bind(Number(args.increment ?? 1)), Multiplier.bind());
}
