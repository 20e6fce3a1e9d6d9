// Merging the replies of several protocol steps (frames that arrived in one chunk) into the one Reply a
// data() call returns: writes concatenated in order, events kept in order, a close from any step wins.
import type { Reply } from "../types.ts";
import { concatBytes, toBytes } from "./bytes.ts";

export function mergeReplies(...replies: Reply[]): Reply {
  const writes: Uint8Array[] = [];
  const out: Reply = {};
  for (const r of replies) {
    if (r.write !== undefined) writes.push(toBytes(r.write));
    if (r.events?.length) out.events = [...(out.events ?? []), ...r.events];
    if (r.close) out.close = true;
  }
  if (writes.length > 0) out.write = writes.length === 1 ? writes[0]! : concatBytes(writes);
  return out;
}
