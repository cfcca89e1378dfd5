// The seed's hello.py: a LanguageClassifier ingress that routes to Spanish or French responders.
//   curl -X POST http://127.0.0.1:8000/ -d '{"language": "spanish", "name": "Dora"}'   ->  Hola Dora
import { serve, type DeploymentHandle } from "tsserve";

export const SpanishResponder = serve.deployment(class SpanishResponder {
  sayHello(name: string): string {
    return `Hola ${name}`;
  }
});

export const FrenchResponder = serve.deployment(class FrenchResponder {
  sayHello(name: string): string {
    return `Bonjour ${name}`;
  }
});

export const LanguageClassifier = serve.deployment(class LanguageClassifier {
  constructor(
    private spanish: DeploymentHandle<typeof SpanishResponder>,
    private french: DeploymentHandle<typeof FrenchResponder>,
  ) {}

  async call(request: Request): Promise<string> {
    const { language, name } = (await request.json()) as { language: string; name: string };
    if (language === "spanish") return await this.spanish.sayHello.remote(name);
    if (language === "french") return await this.french.sayHello.remote(name);
    return "Please try again.";
  }
});

export const app = LanguageClassifier.bind(SpanishResponder.bind(), FrenchResponder.bind());
