// ssh: an OpenSSH or Dropbear server up to its password prompt (version line, key exchange through ssh2,
// refusals with the version's timing and words).
import table from "../../../fixtures/services/ssh.json";
import type { ServiceModule } from "../../types.ts";
import type { SshPrepared } from "./session.ts";
import { sshTemplates, type SshTemplates } from "./templates.ts";
import { summarizeKeyExchange } from "./wire.ts";

// ssh2, its native add-ons and node:http behind them load with the first ssh face, not with every start of
// micetrap: a process serving ftp alone starts without them (scripts/bench.ts, start-up).
const session = (): typeof import("./session.ts") => require("./session.ts");
const keys = (): typeof import("./keys.ts") => require("./keys.ts");

export const ssh: ServiceModule<SshTemplates> = {
  name: "ssh",
  aliases: [],
  transport: "tcp",
  defaultPorts: [22],
  templates: sshTemplates,
  table,
  start: (ctx) => session().startSsh(ctx),
  // Read by the fuzzer only; the constant lives with the session, so reading it loads ssh2.
  get maxBuffered(): number {
    return session().SSH_MAX_BUFFERED;
  },
  prepare(entry, host): SshPrepared {
    // Loaded here, before the port opens and before root is given up: from source, the user the trap drops
    // to may not be able to read the source tree, and the first client must not wait for the load.
    session();
    const t = entry.templates;
    // ssh-keygen's comment on a host key made at install time: root@<hostname>.
    return { keys: keys().hostKeysFor(host.seed, t.hostKeyAlgorithms, t.rsaBits, t.ecdsaCurve, `root@${host.hostname}`) };
  },
  summarizeOpaque: summarizeKeyExchange,
  fuzzPrefixes: ["SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n", "SSH-2.0-libssh_0.9.6\r\n\x00\x00\x05\xdc\x04\x14", "SSH-1.5-Nmap\r\n", "GET / HTTP/1.0\r\n\r\n"],
};
