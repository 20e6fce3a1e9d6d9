// The durable record: one ECS JSON object per line, appended and written through per event, so a crash
// or a kill loses nothing already logged.
import { closeSync, openSync, writeSync } from "node:fs";
import { toEcs } from "./ecs.ts";
import type { EventSink, TrapEvent } from "./types.ts";

export class JsonlSink implements EventSink {
  private fd: number | undefined;
  constructor(path: string) {
    this.fd = openSync(path, "a", 0o640);
  }
  emit(event: TrapEvent): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, JSON.stringify(toEcs(event)) + "\n");
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
