// Merging the replies of several protocol steps (frames that arrived in one chunk) into the one Reply a
// data() call returns: writes concatenated in order, events kept in order, a close from any step wins
// (a reset over an orderly close), timers armed in order (a later step's wins), pauses added up.
import type { Reply } from "../types.ts";
import { concatBytes, toBytes } from "./bytes.ts";

export function mergeReplies(...replies: Reply[]): Reply {
  const writes: Uint8Array[] = [];
  const out: Reply = {};
  for (const r of replies) {
    if (r.write !== undefined) writes.push(toBytes(r.write));
    if (r.events?.length) out.events = [...(out.events ?? []), ...r.events];
    if (r.close === "reset" || (r.close && out.close !== "reset")) out.close = r.close;
    if (r.timers) out.timers = { ...out.timers, ...r.timers };
    if (r.delayMs) out.delayMs = (out.delayMs ?? 0) + r.delayMs;
  }
  if (writes.length > 0) out.write = writes.length === 1 ? writes[0]! : concatBytes(writes);
  return out;
}
