/**
 * The downstream side of chaining: the referenced arguments of one call, each filled by the
 * first of two answers, its pull's (from the replica that ran the upstream call) or its
 * caller's `Supply`; the pull still waiting is then withdrawn (runtime/wire/protocol.ts).
 */
import { errorFromData, errorToData } from "../../sdk/errors.ts";
import { nextId } from "../wire/ids.ts";
import type { ReplicaLink } from "../wire/link.ts";
import { K, type Ref } from "../wire/protocol.ts";
import type { KeptResults, Result } from "./kept.ts";

/** What pulling needs of the replica: its id, its own kept results, links to the others. */
export interface PullRoute {
  readonly self: string;
  readonly kept: KeptResults;
  link(replicaId: string): ReplicaLink | Promise<ReplicaLink>;
}

interface Pull {
  ref: Ref;
  id: number;
  /** The link the pull went out on; unset for a local pull or until the link exists. */
  link?: ReplicaLink;
}

export class RefArgs {
  /** Pulls still waiting, by argument position. */
  readonly #pulls = new Map<number, Pull>();
  #resolve!: () => void;
  #reject!: (err: Error) => void;
  /** Resolves once every referenced argument holds its value; rejects with the first error. */
  readonly ready = new Promise<void>((resolve, reject) => {
    this.#resolve = resolve;
    this.#reject = reject;
  });

  constructor(
    readonly args: unknown[],
    refs: number[],
    readonly route: PullRoute,
  ) {
    for (const at of refs) this.#pulls.set(at, { ref: args[at] as Ref, id: nextId() });
    for (const [at, pull] of [...this.#pulls]) this.#send(at, pull);
  }

  /** The caller passed the value of argument `at` itself: it got it instead of a `Kept`. */
  supply(at: number, result: Result): void {
    this.#filled(at, result, true);
  }

  /** The call ended before its arguments arrived (cancelled, its caller gone). */
  cancel(err: Error): void {
    if (this.#pulls.size > 0) this.#fail(err);
  }

  #fail(err: Error): void {
    for (const at of [...this.#pulls.keys()]) this.#withdraw(at);
    this.#reject(err);
  }

  #send(at: number, pull: Pull): void {
    const answer = (r: Result) => this.#filled(at, r, false);
    const { ref } = pull;
    if (ref.replica === this.route.self) return this.route.kept.pull(ref.caller, ref.id, { caller: this.route.self, id: pull.id, answer });
    const go = (link: ReplicaLink) => {
      if (this.#pulls.get(at) !== pull) return; // filled while the link was on its way
      pull.link = link;
      link.request({ k: K.Pull, id: pull.id, ref }, {
        receive(msg) {
          if (msg.k === K.Ok) answer({ ok: true, v: msg.v });
          else if (msg.k === K.Err) answer({ ok: false, e: msg.e });
          return true;
        },
        fail: (err) => answer({ ok: false, e: errorToData(err) }),
      });
    };
    const link = this.route.link(ref.replica);
    if (link instanceof Promise) link.then(go, (err) => answer({ ok: false, e: errorToData(err) }));
    else go(link);
  }

  /** The first answer for `at` fills it; a later one is dropped. `withdraw`: the pull still waits upstream. */
  #filled(at: number, result: Result, withdraw: boolean): void {
    if (!this.#pulls.has(at)) return;
    if (withdraw) this.#withdraw(at);
    else this.#pulls.delete(at);
    if (!result.ok) return this.#fail(errorFromData(result.e));
    this.args[at] = result.v;
    if (this.#pulls.size === 0) this.#resolve();
  }

  #withdraw(at: number): void {
    const pull = this.#pulls.get(at)!;
    this.#pulls.delete(at);
    const { ref, link } = pull;
    if (ref.replica === this.route.self) return this.route.kept.unpull(ref.caller, ref.id, this.route.self, pull.id);
    if (!link) return; // never sent: the link's arrival sees it gone
    link.forget(pull.id);
    if (!link.dead) link.post({ k: K.Unpull, id: pull.id, ref });
  }
}
