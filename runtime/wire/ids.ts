/** Call ids: unique within this thread, which is what a `Ref` needs with the thread's name. */
let next = 1;
export const nextId = (): number => next++;
