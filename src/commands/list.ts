// `micetrap list`: the catalog, for people (a table) and for scripts (--json).
import { defineCommand } from "citty";
import { allEntries, resolveService } from "../catalog/index.ts";
import { RELEASES } from "../host/releases.ts";
import { UserError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { serviceModule } from "../services/index.ts";
import { selectArgs, selectEntries } from "./serve.ts";

export const listCommand = defineCommand({
  meta: { name: "list", description: "list the banner catalog" },
  args: {
    json: { type: "boolean", description: "print a JSON array" },
    keys: { type: "boolean", description: "print the template keys of --service (their types and meaning)" },
    releases: { type: "boolean", description: "print the OS releases a fake host can run, with the faces each has" },
    ...selectArgs,
  },
  run({ args }) {
    if (args.keys) {
      const service = args.service === undefined ? undefined : resolveService(args.service);
      if (!service) throw new UserError("--keys needs --service NAME");
      process.stdout.write(serviceModule(service).templates.describe().join("\n") + "\n");
      return;
    }
    if (args.releases) {
      const rows = RELEASES.map((r) => ({ ...r, faces: allEntries().filter((e) => e.releases.includes(r.id)).map((e) => e.id) }));
      if (args.json) process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
      else {
        const log = createLogger("normal");
        for (const r of rows) log.log(`${r.id.padEnd(14)} ${String(r.year)}  ${r.name.padEnd(28)} ${r.faces.join(" ") || "-"}`);
      }
      return;
    }
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
        releases: e.releases,
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
