// `micetrap list`: the catalog, for people (a table) and for scripts (--json).
import { defineCommand } from "citty";
import { createLogger } from "../log.ts";
import { selectArgs, selectEntries } from "./serve.ts";

export const listCommand = defineCommand({
  meta: { name: "list", description: "list the banner catalog" },
  args: {
    json: { type: "boolean", description: "print a JSON array" },
    ...selectArgs,
  },
  run({ args }) {
    const entries = selectEntries(args);
    if (args.json) {
      const rows = entries.map((e) => ({
        service: e.service,
        id: e.id,
        product: e.product,
        version: e.version,
        ...(e.info !== undefined ? { info: e.info } : {}),
        ...(e.ostype !== undefined ? { ostype: e.ostype } : {}),
        os: e.os,
        ports: e.ports,
        cpe: e.cpe,
        weight: e.weight,
        ...(e.notes !== undefined ? { notes: e.notes } : {}),
      }));
      process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
      return;
    }
    const log = createLogger("normal");
    const head = ["SERVICE", "ID", "PRODUCT", "VERSION", "OS", "PORTS"];
    const table = [head, ...entries.map((e) => [e.service, e.id, e.product, e.version || "-", e.os, e.ports.join(",")])];
    const widths = head.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const row of table) log.log(row.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
  },
});
