// The ssh templates: what one sshd build says and offers. Algorithm lists are the server's KEXINIT name-lists
// exactly as that version sends them by default (docs/research/ssh-tls.md §2), including names the library
// cannot run: a client that would pick one of those gets, on its own connection only, the list without it
// (session.ts, "tailoring").
import { optional, schema, SchemaError, t, withDefault } from "../schema.ts";

const ALGO = /^[\x21-\x7e]{1,64}$/;
const algos = (doc: string) => {
  const list = t.list(doc);
  return {
    ...list,
    parse(v: unknown, p: string): string[] {
      const out = list.parse(v, p);
      out.forEach((x, i) => {
        if (!ALGO.test(x) || x.includes(",")) throw new SchemaError(`${p}[${i}]`, `expected an algorithm name, got ${JSON.stringify(x)}`);
      });
      return out;
    },
  };
};

export const sshTemplates = schema({
  versionLine: t.text("the identification line, without its line end (SSH-2.0-OpenSSH_5.5p1 Debian-6+squeeze8); what nmap's NULL probe reads", /^SSH-2\.0-[\x21-\x7e]+( [\x20-\x7e]*)?$/, "an SSH-2.0- identification line"),
  lineEnd: t.oneOf("the identification line's end: crlf, or lf (OpenSSH up to 5.0, and upstream 7.4)", ["crlf", "lf"] as const),
  kex: algos("kex_algorithms of the server's KEXINIT"),
  hostKeyAlgorithms: algos("server_host_key_algorithms, as built from the loaded host keys (ssh-dss is advertised where the version had a DSA key, but no DSA key is served)"),
  ciphers: algos("encryption algorithms (the same list both ways)"),
  macs: algos("MAC algorithms (the same list both ways)"),
  compression: algos("compression algorithms (the same list both ways)"),
  rsaBits: t.int("size of the RSA host key (OpenSSH before 8.1: 2048, from 8.1: 3072; Dropbear 2012.55: 1040)", 1024, 4096),
  ecdsaCurve: withDefault(t.oneOf("curve of the ECDSA host key, when the list has one", ["nistp256", "nistp384", "nistp521"] as const), "nistp256"),
  gexGroup: withDefault(
    t.oneOf("the group a DH group exchange gets, as sshd without a moduli file: group14 (OpenSSH up to 6.x: always the 2048-bit group 14), by-max (7.x on: group 14, 16 or 18 by the client's max)", ["group14", "by-max"] as const),
    "by-max",
  ),
  authMethods: t.list("methods named in USERAUTH_FAILURE, in order (publickey,password; RHEL adds gssapi-keyex,gssapi-with-mic)"),
  passwordPrompt: withDefault(t.text("the keyboard-interactive prompt (PAM's)"), "Password: "),
  maxAuthTries: t.int("the failure that reaches this count is answered with the goodbye (OpenSSH MaxAuthTries 6; Dropbear 10)", 1, 100),
  noneCounts: withDefault(t.bool("a 'none' request counts as a failure (OpenSSH 4.3: every request counts; 5.x on: the first none is free)"), false),
  failDelayMs: t.ms("pause before a wrong password or keyboard-interactive answer is refused (PAM's 2 s fail delay, randomised; Dropbear 250–350 ms)"),
  tooManyFailures: optional(t.text("SSH_MSG_DISCONNECT reason 2 text after maxAuthTries failures, {{user}} filled; absent: a plain close (Dropbear)")),
  loginGraceMs: t.ms("LoginGraceTime: a client not logged in by then is dropped without a word (OpenSSH 120 s, Dropbear 300 s)"),
  notSsh: optional(t.text("the answer to a first line that is not SSH-, then a close (OpenSSH ≥ 8.0: Invalid SSH identification string.\\r\\n; older: Protocol mismatch.\\n); absent: such lines are skipped (Dropbear, 50 lines at most)")),
  extInfo: optional(
    t.table(
      "SSH_MSG_EXT_INFO sent to a client that offers ext-info-c, name → value in order (OpenSSH 7.2 on: server-sig-algs; 9.x adds publickey-hostbound@openssh.com); absent: none, as before 7.2 and on Dropbear before 2020.79",
      /^[\x21-\x7e]{1,64}$/,
    ),
  ),
  majorDiffers: optional(t.text("the answer to an SSH-1.x identification (not 1.99), then a close; absent: a plain close")),
});

export type SshTemplates = ReturnType<typeof sshTemplates.parse>;
