// The real smbclient against the real CLI (`micetrap samba … --log FILE`): whatever SMB dialect the face
// speaks, the client's NetNTLMv2 response lands in the log, and it verifies against the password the client
// typed (MS-NLMP 3.3.2: NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain));
// NTProofStr = HMAC-MD5(NTOWFv2, server challenge + blob)).
import { afterAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startTrapProcess, type TrapProcess } from "../../scripts/lib/trap-process.ts";
import { BUN, ROOT, tempDir, readLog } from "../helpers.ts";

const USER = "alice";
const PASSWORD = "Passw0rd";
const dir = tempDir("micetrap-smbclient-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ------------------------------------------------------------------------------------------ MD4 (RFC 1320)

/** MD4, written out from RFC 1320 (node's crypto may be built without it). */
export function md4(message: Uint8Array): Uint8Array {
  const n = message.length;
  const padded = new Uint8Array(((n + 8) >> 6) * 64 + 64);
  padded.set(message);
  padded[n] = 0x80;
  const bits = n * 8;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, bits >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(bits / 2 ** 32), true);
  let a = 0x67452301;
  let b = 0xefcdab89;
  let c = 0x98badcfe;
  let d = 0x10325476;
  const rotl = (x: number, s: number) => (x << s) | (x >>> (32 - s));
  const F = (x: number, y: number, z: number) => (x & y) | (~x & z);
  const G = (x: number, y: number, z: number) => (x & y) | (x & z) | (y & z);
  const H = (x: number, y: number, z: number) => x ^ y ^ z;
  for (let off = 0; off < padded.length; off += 64) {
    const X = Array.from({ length: 16 }, (_, i) => view.getUint32(off + 4 * i, true));
    const [aa, bb, cc, dd] = [a, b, c, d];
    for (const i of [0, 4, 8, 12]) {
      a = rotl((a + F(b, c, d) + X[i]!) | 0, 3);
      d = rotl((d + F(a, b, c) + X[i + 1]!) | 0, 7);
      c = rotl((c + F(d, a, b) + X[i + 2]!) | 0, 11);
      b = rotl((b + F(c, d, a) + X[i + 3]!) | 0, 19);
    }
    for (const i of [0, 1, 2, 3]) {
      a = rotl((a + G(b, c, d) + X[i]! + 0x5a827999) | 0, 3);
      d = rotl((d + G(a, b, c) + X[i + 4]! + 0x5a827999) | 0, 5);
      c = rotl((c + G(d, a, b) + X[i + 8]! + 0x5a827999) | 0, 9);
      b = rotl((b + G(c, d, a) + X[i + 12]! + 0x5a827999) | 0, 13);
    }
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + H(b, c, d) + X[i]! + 0x6ed9eba1) | 0, 3);
      d = rotl((d + H(a, b, c) + X[i + 8]! + 0x6ed9eba1) | 0, 9);
      c = rotl((c + H(d, a, b) + X[i + 4]! + 0x6ed9eba1) | 0, 11);
      b = rotl((b + H(c, d, a) + X[i + 12]! + 0x6ed9eba1) | 0, 15);
    }
    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  const out = new DataView(new ArrayBuffer(16));
  [a, b, c, d].forEach((v, i) => out.setUint32(4 * i, v >>> 0, true));
  return new Uint8Array(out.buffer);
}

const utf16le = (s: string) => Buffer.from(s, "utf16le");
const hmacMd5 = (key: Uint8Array, data: Uint8Array) => createHmac("md5", key).update(data).digest();

/** Does this hashcat -m 5600 line (user::domain:challenge:NTProofStr:blob) answer the challenge with `password`? */
function netNtlmV2Matches(line: string, password: string): boolean {
  const [user, , domain, challenge, proof, blob] = line.split(":");
  const ntowf = hmacMd5(md4(utf16le(password)), utf16le(user!.toUpperCase() + domain!));
  const expected = hmacMd5(ntowf, Buffer.concat([Buffer.from(challenge!, "hex"), Buffer.from(blob!, "hex")]));
  return expected.toString("hex") === proof!.toLowerCase();
}

describe("MD4 and NTLMv2 as the test computes them", () => {
  test("MD4 gives RFC 1320's test vectors", () => {
    const hex = (s: string) => Buffer.from(md4(Buffer.from(s, "latin1"))).toString("hex");
    expect(hex("")).toBe("31d6cfe0d16ae931b73c59d7e0c089c0");
    expect(hex("abc")).toBe("a448017aaf21d8525fc10ae87aa6729d");
    expect(hex("message digest")).toBe("d9130a8164549fe818874806e1c7014b");
    expect(hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890")).toBe("e33b4ddc9c38f2199c3e7b164fcc0536");
  });

  test("the NT hash of 'password' is the well-known 8846f7ea…", () => {
    expect(Buffer.from(md4(utf16le("password"))).toString("hex")).toBe("8846f7eaee8fb117ad06bdd830b7586c");
  });
});

// ------------------------------------------------------------------------------------------ smbclient

async function withTrap<T>(banner: string, run: (port: number, log: string) => Promise<T>, logName = banner): Promise<T> {
  const log = join(dir, `${logName}.jsonl`);
  const t: TrapProcess = await startTrapProcess([BUN, join(ROOT, "src/cli.ts"), "samba", "0", "--host", "127.0.0.1", "--banner", banner, "--log", log], { timeoutMs: 15_000 });
  try {
    return await run(t.ports[0]!, log);
  } finally {
    t.proc.kill("SIGTERM");
    await t.proc.exited;
  }
}

async function smbclient(port: number, extra: string[]): Promise<{ code: number | null; output: string }> {
  const proc = Bun.spawn(["smbclient", "-L", "//127.0.0.1", "-p", String(port), "-U", `${USER}%${PASSWORD}`, ...extra], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(killer);
  return { code, output: out + err };
}

interface LoginEvent {
  user?: { name?: string; domain?: string };
  micetrap?: { login?: { method?: string; hash?: string; hash_type?: string; hashcat_mode?: number } };
}

async function logins(log: string): Promise<LoginEvent[]> {
  // The log is written through as events happen; give the last line a moment.
  for (let i = 0; i < 50; i++) {
    const found = readLog(log).filter((e) => e.event?.action === "login");
    if (found.length > 0) return found;
    await Bun.sleep(50);
  }
  return [];
}

const cases: { banner: string; args: string[]; method: string; why: string }[] = [
  { banner: "samba-4.17-debian12", args: [], method: "smb2-ntlmssp", why: "Samba 4.17, SMB 3.1.1 (smbclient's default)" },
  { banner: "samba-4.2.14-debian", args: [], method: "smb2-ntlmssp", why: "Samba 4.2, SMB 3.0.2" },
  { banner: "samba-3.6.25-freebsd", args: [], method: "smb2-ntlmssp", why: "Samba 3.6, SMB 2.002" },
  { banner: "samba-3.0.24-debian", args: ["--option=client min protocol=NT1", "-m", "NT1"], method: "smb1-ntlmssp", why: "Samba 3.0, SMB1 only" },
  { banner: "windows-smb-2008r2", args: [], method: "smb2-ntlmssp", why: "Windows Server 2008 R2, SMB 2.1" },
];

describe("smbclient -L against the faces: the NetNTLMv2 response is logged and verifies", () => {
  for (const c of cases) {
    test(`${c.banner}: ${c.why}`, async () => {
      await withTrap(c.banner, async (port, log) => {
        const run = await smbclient(port, c.args);
        // It got as far as authenticating: no protocol failure.
        expect(run.output).not.toContain("protocol negotiation failed");
        const found = await logins(log);
        const login = found.find((e) => e.micetrap?.login?.hash_type === "netntlmv2");
        expect(login?.user?.name).toBe(USER);
        expect(login?.micetrap?.login?.method).toBe(c.method);
        expect(login?.micetrap?.login?.hashcat_mode).toBe(5600);
        const line = login!.micetrap!.login!.hash!;
        expect(line.startsWith(`${USER}::${login!.user!.domain ?? ""}:`)).toBe(true);
        expect(netNtlmV2Matches(line, PASSWORD)).toBe(true);
        expect(netNtlmV2Matches(line, "Passw0rd!")).toBe(false);
      });
    }, 40_000);
  }
});

// ------------------------------------------------------------------------------------------ smbclient -L -N

async function smbclientAnon(args: string[]): Promise<string> {
  const proc = Bun.spawn(["smbclient", ...args, "-N"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(killer);
  return out + err;
}

/** smbclient's share table: "\tNAME  TYPE  COMMENT" lines between the dashes and the first blank line. */
function shareTable(output: string): { name: string; type: string; comment: string }[] {
  const lines = output.split("\n");
  const start = lines.findIndex((l) => /^\s*-{9}\s+-{4}\s+-{7}/.test(l));
  if (start < 0) return [];
  const rows: { name: string; type: string; comment: string }[] = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^\t(\S+)\s+(Disk|IPC|Printer)\s*(.*)$/.exec(l);
    if (!m) break;
    rows.push({ name: m[1]!, type: m[2]!, comment: m[3]!.trim() });
  }
  return rows;
}

const listings: { banner: string; args: string[]; ipc: string; first: string[]; why: string }[] = [
  { banner: "samba-4.17-debian12", args: [], ipc: "IPC Service (Samba 4.17.12-Debian)", first: ["print$ Disk Printer Drivers"], why: "SMB 3.1.1, IOCTL transceive" },
  { banner: "samba-3.6.25-freebsd", args: [], ipc: "IPC Service (Samba 3.6.25)", first: [], why: "SMB 2.002" },
  { banner: "samba-3.0.24-debian", args: ["--option=client min protocol=NT1", "-m", "NT1"], ipc: "", first: [], why: "SMB1, TransactNmPipe" },
  { banner: "windows-smb-2003", args: ["--option=client min protocol=NT1", "-m", "NT1"], ipc: "Remote IPC", first: ["ADMIN$ Disk Remote Admin", "C$ Disk Default share"], why: "Windows, SMB1" },
];

describe("smbclient -L -N lists the shares: IPC$ with the product's comment, the host's own shares; other shares are refused", () => {
  for (const c of listings) {
    test(`${c.banner}: ${c.why}`, async () => {
      await withTrap(c.banner, async (port, log) => {
        const rows = shareTable(await smbclientAnon(["-L", "//127.0.0.1", "-p", String(port), ...c.args]));
        const ipc = rows.find((r) => r.name === "IPC$");
        expect(ipc?.type).toBe("IPC");
        if (c.ipc) expect(ipc?.comment).toBe(c.ipc);
        // Samba 3.0 on Debian 4: 'server string = %h server', the host's own name.
        else expect(ipc?.comment).toMatch(/^IPC Service \([a-z0-9-]+ server\)$/);
        expect(rows.slice(0, c.first.length).map((r) => `${r.name} ${r.type} ${r.comment}`)).toEqual(c.first);
        const own = rows.filter((r) => r.type === "Disk" && !/^(print\$|ADMIN\$|C\$|nobody)$/.test(r.name));
        expect(own.length).toBeGreaterThanOrEqual(1);
        expect(own.length).toBeLessThanOrEqual(3);
        // A share it listed is refused to an anonymous guest; a name it never listed does not exist.
        const denied = await smbclientAnon([`//127.0.0.1/${own[0]!.name}`, "-p", String(port), ...c.args, "-c", "ls"]);
        expect(denied).toContain("NT_STATUS_ACCESS_DENIED");
        const missing = await smbclientAnon(["//127.0.0.1/zz-not-a-share", "-p", String(port), ...c.args, "-c", "ls"]);
        expect(missing).toContain("NT_STATUS_BAD_NETWORK_NAME");
        const commands = async (): Promise<string[]> => readLog(log).map((e) => String(e.micetrap?.command ?? ""));
        for (let i = 0; i < 50 && !(await commands()).some((l) => l.endsWith("(bad network name)")); i++) await Bun.sleep(50);
        // SMB1 clients upper-case the share name in the tree connect.
        const logged = (await commands()).map((l) => l.toLowerCase());
        expect(logged.some((l) => l.startsWith("srvsvc netshareenumall level 1"))).toBe(true);
        expect(logged.some((l) => l.endsWith(`\\${own[0]!.name.toLowerCase()} (access denied)`))).toBe(true);
        expect(logged.some((l) => l.endsWith("\\zz-not-a-share (bad network name)"))).toBe(true);
      }, `${c.banner}-list`);
    }, 60_000);
  }
});
