// The smtp service over real TCP on 127.0.0.1: greetings and extension lists as the real daemons give
// them (Postfix 3.7 and Exim 4.96 measured on Debian 12's packages), the envelope refused, each product's
// error limit, and every AUTH mechanism refused and logged with its credential (PLAIN and LOGIN in
// plaintext, CRAM-MD5 and NTLM as hashcat lines that verify against the password used).
import { describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { serviceEntries } from "../../src/catalog/index.ts";
import { hostFacts } from "../../src/host/facts.ts";
import { makeContext } from "../../src/services/context.ts";
import { smtp } from "../../src/services/smtp/index.ts";
import type { SmtpTemplates } from "../../src/services/smtp/templates.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, driveVirtually, startTestTrap, withTimeout, type Conversation } from "../helpers.ts";

const entries = serviceEntries("smtp") as CatalogEntry<{ idleTimeoutMs?: unknown }>[];
function entry(id: string): CatalogEntry {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}
/** The fake host's names, as every service of the test trap's host shows them. */
function hostOf(e: CatalogEntry) {
  return hostFacts({ seed: "test-host", family: e.os });
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

/** Waits for a complete SMTP reply (its last line has a space after the code) beyond what was there. */
async function reply(c: Conversation, from: number, ms = 4000): Promise<string> {
  const all = await c.waitFor((t) => /(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(t.slice(from)), ms);
  return all.slice(from);
}
async function say(c: Conversation, line: string, ms = 4000): Promise<string> {
  const from = c.text().length;
  c.send(`${line}\r\n`);
  return reply(c, from, ms);
}

// NTLMSSP messages built from MS-NLMP: a NEGOTIATE with Unicode, NTLM, always-sign and version flags, and an
// AUTHENTICATE carrying a real NTLMv2 response computed from a password.
function negotiate(): Buffer {
  const b = Buffer.alloc(40);
  b.write("NTLMSSP\0", 0, "latin1");
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE((0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x02000000 | 0x20000000 | 0x80000000) >>> 0, 12);
  return b;
}
function md4(data: Buffer): Buffer {
  return createHash("md4").update(data).digest();
}
function authenticateV2(challenge: Buffer, user: string, domain: string, password: string): { msg: Buffer; proof: string; blob: string } {
  const ntHash = md4(Buffer.from(password, "utf16le"));
  const v2Hash = createHmac("md5", ntHash).update(Buffer.from(user.toUpperCase() + domain, "utf16le")).digest();
  const blob = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), Buffer.alloc(8, 0x11), Buffer.alloc(8, 0x22), Buffer.alloc(4), Buffer.from([0, 0, 0, 0])]);
  const proof = createHmac("md5", v2Hash).update(Buffer.concat([challenge, blob])).digest();
  const nt = Buffer.concat([proof, blob]);
  const lm = Buffer.alloc(24);
  const fields = [lm, nt, Buffer.from(domain, "utf16le"), Buffer.from(user, "utf16le"), Buffer.from("WS01", "utf16le")];
  const head = Buffer.alloc(64);
  head.write("NTLMSSP\0", 0, "latin1");
  head.writeUInt32LE(3, 8);
  let off = 64;
  fields.forEach((f, i) => {
    head.writeUInt16LE(f.length, 12 + i * 8);
    head.writeUInt16LE(f.length, 14 + i * 8);
    head.writeUInt32LE(off, 16 + i * 8);
    off += f.length;
  });
  head.writeUInt32LE(0x00000001 | 0x00000200 | 0x00080000, 60);
  return { msg: Buffer.concat([head, ...fields]), proof: proof.toString("hex"), blob: blob.toString("hex") };
}
/** The AV pairs of a CHALLENGE's target info, by id, decoded as UTF-16. */
function targetInfo(type2: Buffer): Map<number, string> {
  const len = type2.readUInt16LE(40);
  const off = type2.readUInt32LE(44);
  const out = new Map<number, string>();
  for (let at = off; at + 4 <= off + len; ) {
    const id = type2.readUInt16LE(at);
    const n = type2.readUInt16LE(at + 2);
    if (id === 0) break;
    out.set(id, type2.subarray(at + 4, at + 4 + n).toString("utf16le"));
    at += 4 + n;
  }
  return out;
}

describe("smtp over TCP", () => {
  test("Postfix 3.7 (Debian 12): greeting, EHLO list and the envelope as measured on the Debian package", async () => {
    const e = entry("postfix-3.7-debian");
    const h = hostOf(e);
    const { trap } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      expect(await reply(c, 0)).toBe(`220 ${h.fqdn} ESMTP Postfix (Debian/GNU)\r\n`);
      expect(await say(c, "HELP")).toBe("500 5.5.2 Error: command not recognized\r\n");
      expect(await say(c, "EHLO client.example")).toBe(
        `250-${h.fqdn}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n`,
      );
      expect(await say(c, "RCPT TO:<x@gmail.com>")).toBe("503 5.5.1 Error: need MAIL command\r\n");
      expect(await say(c, "MAIL FROM:<a@b.c>")).toBe("250 2.1.0 Ok\r\n");
      expect(await say(c, "MAIL FROM:<a@b.c>")).toBe("503 5.5.1 Error: nested MAIL command\r\n");
      expect(await say(c, "RCPT TO:<x@gmail.com>")).toBe("454 4.7.1 <x@gmail.com>: Relay access denied\r\n");
      expect(await say(c, "DATA")).toBe("554 5.5.1 Error: no valid recipients\r\n");
      expect(await say(c, "RCPT TO:")).toBe("501 5.5.4 Syntax: RCPT TO:<address>\r\n");
      expect(await say(c, "VRFY nouser")).toBe("550 5.1.1 <nouser>: Recipient address rejected: User unknown in local recipient table\r\n");
      expect(await say(c, "STARTTLS foo")).toBe("501 5.5.4 Syntax: STARTTLS\r\n");
      expect(await say(c, "QUIT")).toBe("221 2.0.0 Bye\r\n");
      await withTimeout(c.closed, 3000, "close after QUIT");
    } finally {
      trap.stop();
    }
  });

  test("Postfix: an HTTP request is Postfix's forbidden command, answered and hung up on", async () => {
    const { trap } = startTestTrap(entry("postfix-2.11-debian"));
    try {
      const c = await connect(trap.port);
      await reply(c, 0);
      expect(await say(c, "GET / HTTP/1.0")).toBe("221 2.7.0 Error: I can break rules, too. Goodbye.\r\n");
      await withTimeout(c.closed, 3000, "close after GET");
    } finally {
      trap.stop();
    }
  });

  test("Postfix: AUTH PLAIN and LOGIN refused with Cyrus SASL's words, each logged with its password", async () => {
    const e = entry("postfix-3.7-debian");
    const quick = { ...e, templates: { ...(e.templates as object), authFailDelayMs: { min: 10, max: 10 } } } as CatalogEntry;
    const { trap, sink } = startTestTrap(quick);
    try {
      const c = await connect(trap.port);
      await reply(c, 0);
      await say(c, "EHLO x");
      const refused = "535 5.7.8 Error: authentication failed: authentication failure\r\n";
      expect(await say(c, `AUTH PLAIN ${b64("\0alice\0s3cret")}`)).toBe(refused);
      expect(await say(c, "AUTH LOGIN")).toBe("334 VXNlcm5hbWU6\r\n");
      expect(await say(c, b64("bob"))).toBe("334 UGFzc3dvcmQ6\r\n");
      expect(await say(c, b64("hunter2"))).toBe(refused);
      expect(await say(c, "AUTH LOGIN")).toBe("334 VXNlcm5hbWU6\r\n");
      expect(await say(c, "*")).toBe("501 5.7.0 Authentication aborted\r\n");
      expect(await say(c, "AUTH PLAIN =")).toBe("535 5.7.8 Error: authentication failed: another step is needed in authentication\r\n");
      c.end();
      const logins = sink.of("login");
      expect(logins.map((l) => [l.method, l.user, l.password])).toEqual([
        ["smtp-plain", "alice", "s3cret"],
        ["smtp-login", "bob", "hunter2"],
      ]);
      // The credential lives in the login event only: the command event of AUTH names the mechanism.
      expect(sink.of("command").some((ev) => JSON.stringify(ev).includes(b64("\0alice\0s3cret")))).toBe(false);
    } finally {
      trap.stop();
    }
  });

  test("Postfix: the 20th error ends the session with 421 too many errors", async () => {
    const e = entry("postfix-3.7-debian");
    const h = hostOf(e);
    const quick = { ...e, templates: { ...(e.templates as object), errorSleepMs: { min: 0, max: 0 } } } as CatalogEntry;
    const { trap } = startTestTrap(quick);
    try {
      const c = await connect(trap.port);
      await reply(c, 0);
      for (let i = 1; i < 20; i++) expect(await say(c, `FOO${i}`)).toBe("500 5.5.2 Error: command not recognized\r\n");
      expect(await say(c, "FOO20")).toBe(`500 5.5.2 Error: command not recognized\r\n421 4.7.0 ${h.fqdn} Error: too many errors\r\n`);
      await withTimeout(c.closed, 3000, "close after too many errors");
    } finally {
      trap.stop();
    }
  });

  test("Exim 4.96 (Debian 12): greeting with the host's time, EHLO, HELP, and its synprot limit as measured", async () => {
    const e = entry("exim-4.96-debian");
    const h = hostOf(e);
    const { trap } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      const greeting = await reply(c, 0);
      expect(greeting).toMatch(new RegExp(`^220 ${h.fqdn.replace(/\./g, "\\.")} ESMTP Exim 4\\.96 (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d\\d [A-Z][a-z]{2} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\r\\n$`));
      expect(await say(c, "HELP")).toBe("214-Commands supported:\r\n214 AUTH STARTTLS HELO EHLO MAIL RCPT DATA BDAT NOOP QUIT RSET HELP\r\n");
      expect(await say(c, "MAIL FROM:<a@b.c>")).toBe("503 HELO or EHLO required\r\n");
      expect(await say(c, "EHLO client.example")).toBe(
        `250-${h.fqdn} Hello client.example [127.0.0.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-PIPECONNECT\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-PRDR\r\n250 HELP\r\n`,
      );
      expect(await say(c, "VRFY root")).toBe("252 Administrative prohibition\r\n");
      // Exim echoes the EHLO name, and so refuses one that is no domain (a terminal escape here).
      expect(await say(c, "EHLO \x1b[2Jx")).toBe("501 Syntactically invalid EHLO argument(s)\r\n");
      // Debian's template offers PLAIN and LOGIN only under TLS.
      expect(await say(c, "AUTH PLAIN")).toBe("503 AUTH command used when not advertised\r\n");
      expect(await say(c, "FOO")).toBe("500 unrecognized command\r\n");
      expect(await say(c, "BAR")).toBe("500-unrecognized command\r\n500 Too many syntax or protocol errors\r\n");
      await withTimeout(c.closed, 3000, "close after too many errors");
    } finally {
      trap.stop();
    }
  });

  test("Sendmail (CentOS 6): greeting, HELP names the version, CRAM-MD5 is not offered, PLAIN is logged", async () => {
    const e = entry("sendmail-8.14.4-centos");
    const h = hostOf(e);
    const quick = { ...e, templates: { ...(e.templates as object), authFailDelayMs: { min: 10, max: 10 } } } as CatalogEntry;
    const { trap, sink } = startTestTrap(quick);
    try {
      const c = await connect(trap.port);
      expect(await reply(c, 0)).toMatch(new RegExp(`^220 ${h.fqdn.replace(/\./g, "\\.")} ESMTP Sendmail 8\\.14\\.4/8\\.14\\.4; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\r\\n$`));
      expect(await say(c, "HELP")).toStartWith("214-2.0.0 This is sendmail version 8.14.4\r\n214-2.0.0 Topics:\r\n");
      expect(await say(c, "EHLO x")).toContain("250-AUTH LOGIN PLAIN\r\n");
      expect(await say(c, "AUTH CRAM-MD5")).toBe("504 5.3.3 AUTH mechanism CRAM-MD5 not available\r\n");
      expect(await say(c, `AUTH PLAIN ${b64("\0root\0toor")}`)).toBe("535 5.7.0 authentication failed\r\n");
      c.end();
      expect(sink.of("login").map((l) => [l.method, l.user, l.password])).toEqual([["smtp-plain", "root", "toor"]]);
    } finally {
      trap.stop();
    }
  });

  test("Exchange 2010: AUTH NTLM gives a CHALLENGE with the host's names; the AUTHENTICATE is logged as a NetNTLMv2 line", async () => {
    const e = entry("exchange-2010-win2008r2");
    const h = hostOf(e);
    const quick = { ...e, templates: { ...(e.templates as object), authFailDelayMs: { min: 10, max: 10 } } } as CatalogEntry;
    const { trap, sink } = startTestTrap(quick);
    try {
      const c = await connect(trap.port);
      expect(await reply(c, 0)).toStartWith(`220 ${h.fqdn} Microsoft ESMTP MAIL Service ready at `);
      expect(await say(c, "AUTH NTLM")).toBe("503 5.5.2 Send hello first\r\n");
      const ehlo = await say(c, "EHLO x");
      expect(ehlo).toContain("250-AUTH NTLM\r\n");
      expect(ehlo).toContain("250-STARTTLS\r\n");
      // LOGIN only once TLS is on.
      expect(await say(c, "AUTH LOGIN")).toBe("504 5.7.4 Unrecognized authentication type\r\n");
      expect(await say(c, "AUTH NTLM")).toBe("334 NTLM supported\r\n");
      const type2Line = await say(c, negotiate().toString("base64"));
      const m = /^334 ([A-Za-z0-9+/=]+)\r\n$/.exec(type2Line);
      expect(m).not.toBeNull();
      const type2 = Buffer.from(m![1]!, "base64");
      expect(type2.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
      expect(type2.readUInt32LE(8)).toBe(2);
      const info = targetInfo(type2);
      expect(info.get(1)).toBe(h.netbiosName);
      expect(info.get(3)).toBe(h.fqdn);
      expect(info.get(4)).toBe(h.domain);
      // Windows 2008 R2: 6.1 build 7601 in the version field.
      expect([type2[48], type2[49], type2.readUInt16LE(50)]).toEqual([6, 1, 7601]);
      const challenge = type2.subarray(24, 32);
      const a = authenticateV2(challenge, "Administrator", "CORP", "Winter2024!");
      expect(await say(c, a.msg.toString("base64"))).toBe("535 5.7.3 Authentication unsuccessful\r\n");
      c.end();
      const logins = sink.of("login");
      expect(logins.length).toBe(1);
      expect(logins[0]!.method).toBe("smtp-ntlm");
      expect(logins[0]!.user).toBe("Administrator");
      expect(logins[0]!.hash).toEqual({ value: `Administrator::CORP:${challenge.toString("hex")}:${a.proof}:${a.blob}`, type: "netntlmv2", hashcatMode: 5600 });
    } finally {
      trap.stop();
    }
  });

  test("CRAM-MD5 (a face that offers it): the challenge and the response become a hashcat 16400 line that verifies", async () => {
    const e = entry("postfix-3.7-debian");
    const t = { ...(e.templates as Record<string, unknown>), authMechanisms: ["PLAIN", "LOGIN", "CRAM-MD5"], authFailDelayMs: { min: 10, max: 10 } };
    const { trap, sink } = startTestTrap({ ...e, templates: t } as CatalogEntry);
    try {
      const c = await connect(trap.port);
      await reply(c, 0);
      await say(c, "EHLO x");
      const line = await say(c, "AUTH CRAM-MD5");
      const m = /^334 ([A-Za-z0-9+/=]+)\r\n$/.exec(line);
      expect(m).not.toBeNull();
      const challenge = Buffer.from(m![1]!, "base64").toString("latin1");
      expect(challenge).toMatch(/^<\d+\.\d+@[^>]+>$/);
      const digest = createHmac("md5", "letmein").update(challenge).digest("hex");
      const response = b64(`carol ${digest}`);
      expect(await say(c, response)).toBe("535 5.7.8 Error: authentication failed: authentication failure\r\n");
      c.end();
      const l = sink.of("login")[0]!;
      expect(l.method).toBe("smtp-cram-md5");
      expect(l.user).toBe("carol");
      expect(l.hash).toEqual({ value: `$cram_md5$${m![1]}$${response}`, type: "cram-md5", hashcatMode: 16400 });
    } finally {
      trap.stop();
    }
  });

  test("IIS SMTP 6.0 (Windows 2003): the Version banner nmap reads, and the extension list with X-LINK2STATE under Exchange 2003", async () => {
    const e = entry("iis-smtp-6.0.3790.3959");
    const h = hostOf(e);
    const { trap } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      expect(await reply(c, 0)).toMatch(new RegExp(`^220 ${h.fqdn.replace(/\./g, "\\.")} Microsoft ESMTP MAIL Service, Version: 6\\.0\\.3790\\.3959 ready at  \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4} \\r\\n$`));
      const ehlo = await say(c, "EHLO x");
      expect(ehlo.startsWith(`250-${h.fqdn} Hello [127.0.0.1]\r\n`)).toBe(true);
      expect(ehlo).toContain("250-X-LINK2STATE\r\n");
      expect(ehlo.endsWith("250 OK\r\n")).toBe(true);
      expect(await say(c, "AUTH NTLM")).toBe("334 NTLM supported\r\n");
      expect(await say(c, "!!notbase64")).toBe("501 5.5.2 Cannot Base64 Decode\r\n");
    } finally {
      trap.stop();
    }
  });
});

describe("smtp on the daemon's clock (virtual)", () => {
  test("Postfix: once ten errors were made, every reply waits smtpd_error_sleep_time (1 s) first, as measured", () => {
    const e = entry("postfix-3.7-debian");
    const session = smtp.start(makeContext({ entry: e as CatalogEntry<SmtpTemplates>, hostSeed: "test-host", sessionSeed: "s1", now: () => new Date("2024-03-05T07:08:09Z") }));
    const run = driveVirtually(session);
    const send = (line: string) => run.driver.data(new TextEncoder().encode(`${line}\r\n`));
    for (let i = 1; i <= 10; i++) send(`FOO${i}`);
    expect(run.writes.length).toBe(11); // the greeting and ten refusals, at once
    expect(run.clock.now()).toBe(0);
    send("NOOP");
    expect(run.writes.length).toBe(11);
    run.clock.advanceBy(999);
    expect(run.writes.length).toBe(11);
    run.clock.advanceBy(10);
    expect(run.writes.length).toBe(12);
    expect(new TextDecoder().decode(run.writes[11])).toBe("250 2.0.0 Ok\r\n");
    session.stop?.();
  });

  test("Postfix: silence for 300 s gets Postfix's timeout words and a close", () => {
    const e = entry("postfix-2.9-debian");
    const h = hostOf(e);
    const session = smtp.start(makeContext({ entry: e as CatalogEntry<SmtpTemplates>, hostSeed: "test-host", sessionSeed: "s1", now: () => new Date("2024-03-05T07:08:09Z") }));
    const run = driveVirtually(session);
    run.clock.advanceBy(299_000);
    expect(run.closedAt()).toBeUndefined();
    run.clock.advanceBy(2_000);
    expect(new TextDecoder().decode(run.writes.at(-1))).toBe(`421 4.4.2 ${h.fqdn} Error: timeout exceeded\r\n`);
    expect(run.closedAt()).toBeDefined();
  });
});
