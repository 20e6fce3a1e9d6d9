// PLACEHOLDER: being written.
import type { Protocol } from "../types.ts";

export const ftp: Protocol = {
  service: "ftp",
  start(ctx) {
    return {
      open: () => (ctx.entry.templates.banner ? { write: ctx.entry.templates.banner } : {}),
      data: () => ({}),
    };
  },
};
