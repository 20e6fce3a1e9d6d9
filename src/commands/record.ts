// `micetrap record <service> [port] --out DIR`: serve as usual and keep every session as a transcript.
import { defineCommand } from "citty";
import { resolveService } from "../catalog/index.ts";
import { UserError } from "../errors.ts";
import { DEFAULT_PROBES_FILE } from "../nmap/probes.ts";
import { SERVICES } from "../services/index.ts";
import { RECORD_SEED, serve, serveArgs, serveOptions } from "./serve.ts";

const { port, ...options } = serveArgs;

export const recordCommand = defineCommand({
  meta: { name: "record", description: "serve like <service> and write every session to DIR/<service>/<entry>.json" },
  args: {
    service: { type: "positional", required: true, description: `the service (${SERVICES.join(", ")})` },
    port,
    ...options,
    seed: { type: "string", description: `seed for the face and per-host details (default "${RECORD_SEED}")`, valueHint: "TEXT" },
    out: { type: "string", required: true, description: "folder for transcripts, e.g. fixtures/transcripts", valueHint: "DIR" },
    note: { type: "string", description: 'what produced the traffic, kept in the transcript (e.g. "nmap -sV --version-all")', valueHint: "TEXT" },
    probes: { type: "string", description: `nmap-service-probes, to name each request (default ${DEFAULT_PROBES_FILE})`, valueHint: "FILE" },
  },
  run: ({ args }) => {
    const service = resolveService(args.service);
    if (!service) throw new UserError(`unknown service "${args.service}": expected one of ${SERVICES.join(", ")}`);
    if (!args.out) throw new UserError("record needs --out DIR");
    return serve({
      ...serveOptions(service, args),
      record: { outDir: args.out, ...(args.note ? { note: args.note } : {}), ...(args.probes ? { probes: args.probes } : {}) },
    });
  },
});
