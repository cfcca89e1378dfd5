// Compile-only checks of DeploymentHandle<T> (run by `tsc --noEmit -p .`; never executed).
import { serve, type DeploymentHandle, type DeploymentResponse, type DeploymentResponseGenerator } from "tsserve";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const Adder = serve.deployment(class Adder {
  constructor(private increment: number) {}
  call(val: number) {
    return val + this.increment;
  }
  async label(prefix: string, n: number) {
    return `${prefix}${n + this.increment}`;
  }
  *count(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  async *words(text: string) {
    yield* text.split(" ");
  }
  private secret() {
    return 1;
  }
  field = 3;
});

declare const adder: DeploymentHandle<typeof Adder>;

// The right arguments are accepted, and remote() returns a DeploymentResponse of the awaited result.
const sum = adder.remote(1);
type _sum = Expect<Equal<typeof sum, DeploymentResponse<number>>>;
const label = adder.label.remote("n=", 2);
type _label = Expect<Equal<typeof label, DeploymentResponse<string>>>;

// A DeploymentResponse may stand where its value is expected (chaining).
const chained = adder.remote(adder.remote(1));
type _chained = Expect<Equal<typeof chained, DeploymentResponse<number>>>;
adder.label.remote("n=", adder.remote(1));

// @ts-expect-error a string where a number is expected
adder.remote("1");
// @ts-expect-error a response of the wrong type where a number is expected
adder.remote(adder.label.remote("x", 1));
// @ts-expect-error too few arguments
adder.label.remote("n=");
// @ts-expect-error an unknown method
adder.subtract.remote(1);
// @ts-expect-error a private member
adder.secret.remote();
// @ts-expect-error a field is not a method
adder.field.remote();

// options({ methodName }) keeps the handle's type; options({ stream: true }) retypes generator methods.
const same = adder.options({ methodName: "label" });
type _same = Expect<Equal<typeof same, DeploymentHandle<typeof Adder, false>>>;
const counted = adder.options({ stream: true }).count.remote(3);
type _counted = Expect<Equal<typeof counted, DeploymentResponseGenerator<number>>>;
const words = adder.options({ stream: true }).words.remote("a b");
type _words = Expect<Equal<typeof words, DeploymentResponseGenerator<string>>>;
const asIterable: AsyncIterable<number> = counted;

// The handle may also be typed by the class's instance type.
type AdderInstance = InstanceType<typeof Adder.target>;
declare const byInstance: DeploymentHandle<AdderInstance>;
const byInstanceSum = byInstance.remote(1);
type _byInstance = Expect<Equal<typeof byInstanceSum, DeploymentResponse<number>>>;

// A function deployment's handle calls the function.
const triple = serve.deployment(function triple(x: number) {
  return x * 3;
});
declare const tripler: DeploymentHandle<typeof triple>;
const tripled = tripler.remote(2);
type _tripled = Expect<Equal<typeof tripled, DeploymentResponse<number>>>;
// @ts-expect-error wrong argument type for a function deployment
tripler.remote("2");

// bind() takes the constructor's parameters, with an Application where a handle goes.
const Ingress = serve.deployment(class Ingress {
  constructor(
    private adder: DeploymentHandle<typeof Adder>,
    private factor: number,
  ) {}
  async call(x: number) {
    return (await this.adder.remote(x)) * this.factor;
  }
});
Ingress.bind(Adder.bind(1), 2);
// @ts-expect-error a number where an Application is expected
Ingress.bind(1, 2);
// @ts-expect-error a string where a number is expected
Adder.bind("1");

export type { _sum, _label, _chained, _same, _counted, _words, _byInstance, _tripled };
export { asIterable };
