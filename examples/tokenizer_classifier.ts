// The seed's Tokenizer -> Classifier: the classifier asks the tokenizer deployment for tokens.
//   npx bun examples/tokenizer_classifier.ts   ->  positive
import { serve, type DeploymentHandle } from "tsserve";

const POSITIVE = new Set(["good", "great", "love", "excellent"]);
const NEGATIVE = new Set(["bad", "awful", "hate", "terrible"]);

export const Tokenizer = serve.deployment(class Tokenizer {
  /** Lower-cased words, as token ids: 1 positive, -1 negative, 0 neither. */
  call(text: string): number[] {
    return text
      .toLowerCase()
      .split(/[^a-z]+/)
      .filter(Boolean)
      .map((w) => (POSITIVE.has(w) ? 1 : NEGATIVE.has(w) ? -1 : 0));
  }
});

export const Classifier = serve.deployment(class Classifier {
  constructor(private tokenizer: DeploymentHandle<typeof Tokenizer>) {}

  async call(text: string): Promise<"positive" | "negative" | "neutral"> {
    const tokens = await this.tokenizer.remote(text);
    const score = tokens.reduce((a, b) => a + b, 0);
    return score > 0 ? "positive" : score < 0 ? "negative" : "neutral";
  }
});

export const app = Classifier.bind(Tokenizer.bind());

if (import.meta.main) {
  await serve.start({ http: { port: 0 } });
  const handle = await serve.run(app, { routePrefix: null });
  console.log(await handle.remote("I love this, it is great")); // positive
  await serve.shutdown();
}
