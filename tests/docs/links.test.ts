/**
 * The project's docs stand alone: every relative link in README.md and docs/*.md reaches a file
 * of the repository (and a #fragment, a heading of that file), no link leaves for files users
 * do not have, and docs/api.md names every public export of "tsserve".
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tsserve from "tsserve";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const docs = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** The text without fenced code blocks and inline code, where brackets are not links. */
const prose = (md: string): string => md.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of md.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim().replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

const links = (md: string): string[] => [...prose(md).matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);

describe("docs links", () => {
  test("there are docs: API, CLI and config references and a production guide, linked from the README", () => {
    for (const f of ["docs/api.md", "docs/cli.md", "docs/config.md", "docs/production.md"]) expect(docs).toContain(f);
    const readme = links(readFileSync(join(root, "README.md"), "utf8"));
    for (const f of ["docs/api.md", "docs/cli.md", "docs/config.md", "docs/production.md"]) expect(readme).toContain(f);
  });

  for (const file of docs) {
    test(`${file}: every relative link resolves, anchors included`, () => {
      const md = readFileSync(join(root, file), "utf8");
      const broken: string[] = [];
      for (const link of links(md)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [path, fragment] = link.split("#") as [string, string | undefined];
        const target = path ? resolve(dirname(join(root, file)), decodeURIComponent(path)) : join(root, file);
        if (!target.startsWith(root + "/") && target !== root) {
          broken.push(`${link}: outside the repository`);
          continue;
        }
        if (!existsSync(target)) {
          broken.push(`${link}: no file ${relative(root, target)}`);
          continue;
        }
        if (fragment && target.endsWith(".md") && !anchors(readFileSync(target, "utf8")).has(fragment)) {
          broken.push(`${link}: no heading #${fragment} in ${relative(root, target)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }

  test("no text points at files users do not have (../shared, spec files)", () => {
    for (const file of docs) {
      const md = readFileSync(join(root, file), "utf8");
      expect({ file, found: md.match(/\.\.\/shared|shared\/spec|DESIGN\.md|API\.md/g) }).toEqual({ file, found: null });
    }
    for (const cmd of readdirSync(join(root, "cmd")).filter((f) => f.endsWith(".ts"))) {
      for (const m of readFileSync(join(root, "cmd", cmd), "utf8").matchAll(/\bdocs\/[\w.-]+\.md/g)) {
        expect({ cmd, doc: m[0], exists: existsSync(join(root, m[0])) }).toEqual({ cmd, doc: m[0], exists: true });
      }
    }
  });

  test("the anchor rule follows GitHub's", () => {
    expect([...anchors("# `tsserve run`\n## `HandleOptions`, `StreamItem<R>`\n## A b\n## A b\n```\n# not a heading\n```\n")]).toEqual([
      "tsserve-run",
      "handleoptions-streamitemr",
      "a-b",
      "a-b-1",
    ]);
  });
});

describe("docs/api.md", () => {
  test("names every export of \"tsserve\" and every function of serve", () => {
    const api = readFileSync(join(root, "docs/api.md"), "utf8");
    const values = [...Object.keys(tsserve), ...Object.keys(tsserve.serve).map((k) => `serve.${k}`)];
    // Type-only exports leave no runtime trace: read them from the entry point's export lists.
    const entry = readFileSync(join(root, "sdk/index.ts"), "utf8");
    const types = [...entry.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((m) => m[1]!.split(",").map((s) => s.replace(/\btype\b/, "").trim()).filter(Boolean));
    const statusTypes = [...readFileSync(join(root, "sdk/status.ts"), "utf8").matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]!);
    const missing = [...new Set([...values, ...types, ...statusTypes])].filter((name) => !api.includes(`\`${name}`));
    expect(missing).toEqual([]);
  });
});

describe("npm install", () => {
  test("package.json approves every install script the lock file holds (bun, deno), so npm 11 installs them without a warning", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
    const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
      .filter(([path, p]) => path && p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length))
      .sort();
    // Still needed: bun and deno link their native binaries in their postinstall.
    expect(withScripts).toEqual(["bun", "deno"]);
    expect(pkg.allowScripts).toEqual(Object.fromEntries(withScripts.map((name) => [name, true])));
  });
});
