/** Stream flow control: the consumer grants this many items; the producer never runs further ahead. */
export const STREAM_WINDOW = 1000;
/** The consumer tops the grant up after reading this many items. */
export const CREDIT_EVERY = 250;
/** The producer sends at most this many items in one message. */
export const MAX_ITEMS_PER_MESSAGE = 256;
