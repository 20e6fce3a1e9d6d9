// The sinks besides the console and the JSONL file, chosen by a host plan: stdout JSON, syslog, webhook.
// Each is an EventSink that never throws from emit, never waits on its receiver, holds a bounded queue,
// and can be given a bounded time to deliver what it holds at shutdown (flushWithin).
import type { LineStream } from "../../log.ts";
import type { MetricsTarget } from "../../runtime/metrics.ts";
import type { EventSink } from "../types.ts";
import type { SinkHooks, WriteFailure } from "./outage.ts";
import { StdoutJsonSink } from "./stdout.ts";
import { SyslogSink } from "./syslog.ts";
import type { SyslogTarget, WebhookTarget } from "./url.ts";
import { WebhookSink } from "./webhook.ts";

export interface SinkPlan {
  /** ECS JSON lines on stdout (`--json`, `--log -`). */
  json?: boolean;
  syslog?: SyslogTarget;
  webhook?: WebhookTarget;
  /** Prometheus text on GET /metrics (`--metrics`): counts of the events, not a delivery (src/runtime/metrics.ts). */
  metrics?: MetricsTarget;
}

export interface DeliverySink extends EventSink {
  /** How messages name it: "stdout", "syslog udp://…", "webhook https://…". */
  readonly name: string;
  readonly failing: WriteFailure | undefined;
  readonly dropped: number;
  /** Events held, not yet delivered. */
  readonly pending: number;
  flushWithin(ms: number): Promise<void>;
}

/** Opens the plan's sinks; `hooks` gives each its outage reporting. Nothing here throws for a receiver that is down. */
export function openSinks(plan: SinkPlan, hooks: (name: string) => SinkHooks, stdout: LineStream): DeliverySink[] {
  const out: DeliverySink[] = [];
  if (plan.json) out.push(new StdoutJsonSink(stdout, hooks("stdout")));
  if (plan.syslog) out.push(new SyslogSink(plan.syslog, hooks(`syslog ${plan.syslog.display}`)));
  if (plan.webhook) out.push(new WebhookSink(plan.webhook, hooks(`webhook ${plan.webhook.display}`)));
  return out;
}
