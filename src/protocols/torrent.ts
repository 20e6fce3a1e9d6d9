// PLACEHOLDER: being written.
import type { Protocol } from "../types.ts";

export const torrent: Protocol = {
  service: "torrent",
  start(ctx) {
    return {
      open: () => (ctx.entry.templates.banner ? { write: ctx.entry.templates.banner } : {}),
      data: () => ({}),
    };
  },
};
