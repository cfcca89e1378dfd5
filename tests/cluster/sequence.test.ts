/**
 * The numbers each link across the bridge carries (runtime/cluster/sequence.ts): a message lost
 * in the middle shows as a gap, a last one lost shows when the sender's probe says it sent more
 * than arrived, and nothing is taken for lost when nothing was, in any interleaving of the two
 * directions (each keeps its order, as NATS keeps one publisher's order on a subject).
 */
import { describe, expect, test } from "bun:test";
import { Mark, type Numbered, PROBE_AFTER_MS, Sequence } from "../../runtime/cluster/sequence.ts";

describe("Sequence", () => {
  test("messages in order are delivered; one missing in the middle is a loss", () => {
    const a = new Sequence();
    const b = new Sequence();
    const m1 = a.number(["one"], 0);
    const m2 = a.number(["two"], 0);
    const m3 = a.number(["three"], 0);
    expect(b.receive(m1, 0)).toBe(true);
    expect(b.receive(m3, 0)).toBe(false);
    expect(m2[2]).toEqual(["two"]);
  });

  test("a last message lost shows at the probe: the sender waited PROBE_AFTER_MS for its ack", () => {
    const a = new Sequence();
    const b = new Sequence();
    expect(b.receive(a.number(["one"], 0), 0)).toBe(true);
    a.number(["two"], 0); // lost
    expect(a.probeDue(PROBE_AFTER_MS - 1)).toBe(false);
    expect(a.probeDue(PROBE_AFTER_MS)).toBe(true);
    // Not again until another PROBE_AFTER_MS has passed.
    expect(a.probeDue(PROBE_AFTER_MS + 10)).toBe(false);
    expect(b.receive(a.mark(Mark.Probe), PROBE_AFTER_MS)).toBe(false);
  });

  test("an answer acknowledges: nothing waits, so no probe; a probe answered by a count settles both ends", () => {
    const caller = new Sequence();
    const replica = new Sequence();
    expect(replica.receive(caller.number(["call"], 0), 0)).toBe(true);
    expect(caller.receive(replica.number(["answer"], 1), 1)).toBe(true);
    expect(caller.probeDue(10 * PROBE_AFTER_MS)).toBe(false);
    // The replica's answer waits for an ack: it probes; the caller's count acknowledges it.
    expect(replica.probeDue(PROBE_AFTER_MS + 1)).toBe(true);
    expect(caller.receive(replica.mark(Mark.Probe), PROBE_AFTER_MS + 1)).toBe(true);
    expect(replica.receive(caller.mark(Mark.Count), PROBE_AFTER_MS + 2)).toBe(true);
    expect(replica.probeDue(10 * PROBE_AFTER_MS)).toBe(false);
  });

  test("under load: thousands of messages both ways in random interleavings, with or without one lost, are judged right", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const ends = [new Sequence(), new Sequence()] as const;
      // Each direction keeps its order; the two directions interleave at random.
      const wires: Numbered[][] = [[], []];
      const lose = round % 2 === 0 ? Math.floor(random() * 40) : -1;
      let sent = 0;
      let lossSeen = false;
      let now = 0;
      for (let step = 0; step < 60; step++) {
        now += 10;
        const from = random() < 0.5 ? 0 : 1;
        if (random() < 0.6) {
          const m = ends[from].number([step], now);
          if (from === 0 && sent++ === lose) continue;
          wires[from].push(m);
        }
        const to = random() < 0.5 ? 0 : 1;
        const m = wires[1 - to].shift();
        if (m && !ends[to].receive(m, now)) lossSeen = true;
      }
      // Drain, then each end probes: a loss anywhere shows, and only then.
      for (const to of [0, 1]) for (const m of wires[1 - to].splice(0)) if (!ends[to].receive(m, now)) lossSeen = true;
      for (const from of [0, 1]) if (!ends[1 - from].receive(ends[from].mark(Mark.Probe), now)) lossSeen = true;
      expect(lossSeen).toBe(lose >= 0 && lose < sent);
    }
  });
});
