/**
 * Keeps `npm test` quiet unless a test fails: what tests log on purpose (expected error
 * stacks, replica logs) is held back while a test runs, dropped when it passes, and printed
 * with bun's own failure report when it fails. bun test reports each test after it ends, with
 * "(pass) name" or "(fail) name", so everything between two reports belongs to the test after.
 */

const REPORT = /^\((pass|fail|skip|todo)\) /;
const SUMMARY = /^\s*\d+ (pass|fail|skip|todo|error|errors)$|^\s*\d+ expect\(\) calls$|^Ran \d+ tests? across /;
const FILE_HEADER = /^\S.*\.(test|spec)\.[cm]?[jt]sx?:$/;
const ALWAYS = /^bun test v/;
/** An error outside any test: shown at once, whatever comes after. */
const UNHANDLED = /^# Unhandled error/;

export class QuietOutput {
  #held: string[] = [];
  #hidden = 0;
  #passThrough = false;

  constructor(private readonly emit: (line: string) => void) {}

  /** One line of bun test's output (either stream), without its newline. */
  line(text: string): void {
    const report = REPORT.exec(text)?.[1];
    if (report) {
      this.#passThrough = false;
      if (report === "fail") {
        this.#flush();
      } else {
        this.#drop();
      }
      return this.emit(text);
    }
    if (UNHANDLED.test(text)) {
      this.#flush();
      this.#passThrough = true;
    }
    if (this.#passThrough || ALWAYS.test(text)) return this.emit(text);
    if (SUMMARY.test(text) || FILE_HEADER.test(text)) {
      // What is held before a new file or the summary belongs to no test (an afterAll's logs).
      this.#drop();
      if (FILE_HEADER.test(text)) this.emit("");
      return this.emit(text);
    }
    this.#held.push(text);
  }

  /** At the end: returns how many lines were hidden. */
  end(): number {
    this.#drop();
    return this.#hidden;
  }

  #flush(): void {
    for (const l of this.#held) this.emit(l);
    this.#held = [];
  }

  #drop(): void {
    this.#hidden += this.#held.filter((l) => l.trim() !== "").length;
    this.#held = [];
  }
}
