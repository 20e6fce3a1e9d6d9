// The sink flags shared by `micetrap <service>` and `micetrap serve`: --json, --syslog URL, --webhook URL,
// and --metrics [ADDR:]PORT (the counts of the events, served to Prometheus).
// Parsed before anything is bound or logged; a bad URL is a one-line error. What each sink does is in
// src/events/sinks/.
import { UserError } from "../errors.ts";
import type { SinkPlan } from "../events/sinks/index.ts";
import { parseSyslogUrl, parseWebhookUrl, SinkUrlError } from "../events/sinks/url.ts";
import { metricsFromFlag } from "./metrics.ts";

export const sinkArgs = {
  json: { type: "boolean", description: "write events as ECS JSON lines to stdout (human lines go to stderr); `--log -` does the same" },
  syslog: { type: "string", description: "also send events to syslog (RFC 5424): udp://HOST[:PORT], tcp://HOST[:PORT] or unix:///dev/log", valueHint: "URL" },
  webhook: { type: "string", description: "also POST events, as JSON arrays, to an http:// or https:// URL", valueHint: "URL" },
  metrics: { type: "string", description: "serve Prometheus metrics on GET /metrics at [ADDR:]PORT (a bare port: 127.0.0.1; off by default)", valueHint: "ADDR:PORT" },
} as const;

function parsed<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof SinkUrlError) throw new UserError(`invalid --${flag}: ${err.message}`);
    throw err;
  }
}

/** The sinks the flags ask for; absent flags leave the config's (if any). */
export function sinksFrom(args: Partial<Record<keyof typeof sinkArgs, string | boolean | undefined>>): SinkPlan {
  const out: SinkPlan = {};
  if (args.json === true) out.json = true;
  if (typeof args.syslog === "string") out.syslog = parsed("syslog", () => parseSyslogUrl(args.syslog as string));
  if (typeof args.webhook === "string") out.webhook = parsed("webhook", () => parseWebhookUrl(args.webhook as string));
  if (typeof args.metrics === "string") out.metrics = metricsFromFlag(args.metrics);
  return out;
}

/** Command-line sinks over a config's: a flag replaces the key of the same name. */
export function mergeSinks(config: SinkPlan | undefined, cli: SinkPlan): SinkPlan | undefined {
  const merged: SinkPlan = { ...config, ...cli };
  return merged.json || merged.syslog || merged.webhook || merged.metrics ? merged : undefined;
}
