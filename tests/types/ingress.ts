// Compile-only checks of serve.ingress(app) and serve.ingress(builder) (run by `tsc --noEmit -p .`; never executed).
import { Elysia } from "elysia";
import { serve, type DeploymentHandle, type DeploymentResponse } from "tsserve";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const Greeter = serve.deployment(class Greeter {
  greet(name: string): string {
    return `Hello ${name}`;
  }
});
const Counter = serve.deployment(class Counter {
  constructor(private start: number) {}
  next(): number {
    return this.start++;
  }
});

// An app: the deployment takes no constructor arguments.
const Plain = serve.deployment(serve.ingress(new Elysia().get("/", () => "hi")));
Plain.bind();
// @ts-expect-error an app-made ingress takes no arguments
Plain.bind(Greeter.bind());

// A builder: its parameters are the constructor's, with an Application wherever a handle goes.
const Api = serve.deployment(
  serve.ingress((greeter: DeploymentHandle<typeof Greeter>, suffix: string) =>
    new Elysia().get("/hello/:name", async ({ params }) => {
      const r = greeter.greet.remote(params.name);
      type _r = Expect<Equal<typeof r, DeploymentResponse<string>>>;
      // @ts-expect-error greet takes a string
      greeter.greet.remote(1);
      // @ts-expect-error Greeter has no method "wave"
      greeter.wave.remote();
      return `${await r}${suffix}`;
    }),
  ),
);
Api.bind(Greeter.bind(), "!");
// @ts-expect-error the suffix is missing
Api.bind(Greeter.bind());
// @ts-expect-error a string where the Greeter application goes
Api.bind("greeter", "!");
// @ts-expect-error the suffix must be a string
Api.bind(Greeter.bind(), 1);

// An async builder is typed the same way.
const AsyncApi = serve.deployment(
  serve.ingress(async (counter: DeploymentHandle<typeof Counter>) => new Elysia().get("/", async () => await counter.next.remote())),
);
AsyncApi.bind(Counter.bind(1));
// @ts-expect-error Counter's constructor takes a number
AsyncApi.bind(Counter.bind("one"));

// @ts-expect-error neither an app nor a builder
serve.ingress(42);
