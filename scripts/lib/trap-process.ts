// Starts a trap (the compiled binary, or any program that prints micetrap's listening line) and waits
// until it listens: shared by the nmap verification, the transcript recorder and the benchmark.

export interface TrapProcess {
  proc: ReturnType<typeof Bun.spawn>;
  /** Every port from the "listening on port N..." lines seen so far. */
  ports: number[];
  output: string;
  /** Milliseconds from spawn until `until` matched. */
  startedMs: number;
}

const LISTENING = /listening on port (\d+)\.\.\./g;

export async function startTrapProcess(
  cmd: string[],
  o: { until?: RegExp; timeoutMs?: number; env?: Record<string, string>; stderr?: "pipe" | "inherit" | "ignore" } = {},
): Promise<TrapProcess> {
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: o.stderr ?? "pipe", ...(o.env ? { env: o.env } : {}) });
  const until = o.until ?? /listening on port \d+\.\.\./;
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + (o.timeoutMs ?? 15000);
  let output = "";
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    output += decoder.decode(value);
    if (until.test(output)) {
      const startedMs = performance.now() - t0;
      reader.releaseLock();
      // Keep draining so a chatty trap never blocks on a full pipe.
      (async () => {
        for await (const _ of proc.stdout as ReadableStream<Uint8Array>);
      })().catch(() => {});
      return { proc, ports: [...output.matchAll(LISTENING)].map((m) => Number(m[1])), output, startedMs };
    }
  }
  proc.kill("SIGKILL");
  const stderr = o.stderr === undefined || o.stderr === "pipe" ? await new Response(proc.stderr as ReadableStream).text() : "";
  throw new Error(`${cmd.join(" ")}: did not start listening: ${output} ${stderr}`);
}
