/**
 * Where one node's entries in the per-beat tables are (the tracker's state, the stream limiter's
 * bucket), kept by the validator with the node's subject: a beat then reaches them without a
 * look-up by key in each table (at 10,000 nodes each look-up is a likely cache miss).
 *
 * A hint, never the truth: a table takes an entry from the slot only when the slot was filled by
 * that same table and the entry is still live in it (not removed, evicted or pruned); otherwise it
 * looks the key up as before and fills the slot again. A slot belongs to one subject, and so to
 * one key: tables that share a slot never mix nodes. Its owner, the validator, keeps at most
 * `maxNodes` slots, so the entries a slot may keep from the garbage collector are bounded.
 */
export interface NodeSlot {
  /** The table that filled `tracked`, and the node's state in it. */
  tracker?: object;
  tracked?: object;
  /** The token buckets that filled `bucket`, and the node's bucket in them. */
  buckets?: object;
  bucket?: object;
}
