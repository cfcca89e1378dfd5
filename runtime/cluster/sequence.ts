/**
 * Lost messages on one link across the bridge (cluster/bridge.ts). NATS core delivers at most
 * once, and a message can be lost while neither end's connection drops (between the servers of
 * a NATS cluster, say); a lost call or answer would leave its call waiting forever. So each
 * direction of a link numbers its messages (1, 2, ... within one epoch of the link), and each
 * message also says how many the sender has received the other way (its ack).
 *
 * Invariant: a lost message is noticed, at the latest about 2 × PROBE_AFTER_MS after it was sent,
 * as long as NATS carries anything between the two nodes. One followed by another in the same
 * direction shows as a gap in the numbers. The last one shows because it stays unacknowledged:
 * a side whose messages the other has not acknowledged for PROBE_AFTER_MS sends a probe (how many
 * it sent, and its ack), again each PROBE_AFTER_MS while that lasts; the other side, seeing it
 * sent more than arrived, knows one was lost, and otherwise answers with a mark (the same, the
 * other way), which shows a loss in that direction or acknowledges. A lost probe or mark is made
 * good by the next probe. A side that noticed a loss says so (`Mark.Lost`) to every message of
 * that epoch until the caller makes the link anew.
 */

/** How long a message may stay unacknowledged before its sender asks (a probe). */
export const PROBE_AFTER_MS = 1000;

/** What travels in place of a batch on a message that carries none (a batch is an array or a string, never a number). */
export const enum Mark {
  /** "I sent this many; answer with a mark." */
  Probe = 0,
  /** "I sent this many" (the answer to a probe). */
  Count = 1,
  /** "A message you sent on this link was lost: make it anew." (replica side -> caller) */
  Lost = 2,
}

/** What travels on every message of a link: `[n, ack, batch or Mark]`. */
export type Numbered = [n: number, ack: number, body: unknown];

/** One end of a link: what it sent, what it received, what the other end acknowledged. */
export class Sequence {
  #sent = 0;
  #received = 0;
  #acked = 0;
  /** Since when some of what this end sent is unacknowledged (undefined: nothing is). */
  #waitingSince: number | undefined;
  #probedAt = -Infinity;

  /** A batch leaving: its number and this end's ack. */
  number(batch: unknown, now = performance.now()): Numbered {
    this.#waitingSince ??= now;
    return [++this.#sent, this.#received, batch];
  }

  /** A mark leaving (it is not numbered: it says how many were sent). */
  mark(kind: Mark): Numbered {
    return [this.#sent, this.#received, kind];
  }

  /**
   * A message arrived: false if one sent before it was lost. Otherwise the batch it carries is
   * to be delivered (a mark carries none).
   */
  receive([n, ack, body]: Numbered, now = performance.now()): boolean {
    if (ack > this.#acked) {
      this.#acked = ack;
      this.#waitingSince = ack >= this.#sent ? undefined : now;
    }
    if (typeof body === "number") return n === this.#received;
    if (n !== this.#received + 1) return false;
    this.#received = n;
    return true;
  }

  /** Whether to send a probe now: something has waited for its ack for PROBE_AFTER_MS, and the last probe was that long ago. */
  probeDue(now = performance.now()): boolean {
    if (this.#waitingSince === undefined || now - this.#waitingSince < PROBE_AFTER_MS || now - this.#probedAt < PROBE_AFTER_MS) return false;
    this.#probedAt = now;
    return true;
  }
}
