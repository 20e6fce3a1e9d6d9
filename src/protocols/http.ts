// PLACEHOLDER: being written.
import type { Protocol } from "../types.ts";

export const http: Protocol = {
  service: "http",
  start(ctx) {
    return {
      open: () => (ctx.entry.templates.banner ? { write: ctx.entry.templates.banner } : {}),
      data: () => ({}),
    };
  },
};
