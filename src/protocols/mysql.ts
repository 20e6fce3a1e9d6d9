// PLACEHOLDER: being written.
import type { Protocol } from "../types.ts";

export const mysql: Protocol = {
  service: "mysql",
  start(ctx) {
    return {
      open: () => (ctx.entry.templates.banner ? { write: ctx.entry.templates.banner } : {}),
      data: () => ({}),
    };
  },
};
