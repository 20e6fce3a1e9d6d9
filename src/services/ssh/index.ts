// ssh: an OpenSSH or Dropbear server up to its password prompt (version line, key exchange through ssh2,
// refusals with the version's timing and words).
import table from "../../../fixtures/services/ssh.json";
import type { ServiceModule } from "../../types.ts";
import { hostKeysFor } from "./keys.ts";
import { SSH_MAX_BUFFERED, type SshPrepared, startSsh } from "./session.ts";
import { sshTemplates, type SshTemplates } from "./templates.ts";
import { summarizeKeyExchange } from "./wire.ts";

export const ssh: ServiceModule<SshTemplates> = {
  name: "ssh",
  aliases: [],
  transport: "tcp",
  defaultPorts: [22],
  templates: sshTemplates,
  table,
  start: startSsh,
  maxBuffered: SSH_MAX_BUFFERED,
  prepare(entry, host): SshPrepared {
    const t = entry.templates;
    // ssh-keygen's comment on a host key made at install time: root@<hostname>.
    return { keys: hostKeysFor(host.seed, t.hostKeyAlgorithms, t.rsaBits, t.ecdsaCurve, `root@${host.hostname}`) };
  },
  summarizeOpaque: summarizeKeyExchange,
  fuzzPrefixes: ["SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n", "SSH-2.0-libssh_0.9.6\r\n\x00\x00\x05\xdc\x04\x14", "SSH-1.5-Nmap\r\n", "GET / HTTP/1.0\r\n\r\n"],
};
