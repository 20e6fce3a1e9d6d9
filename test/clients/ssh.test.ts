// Real SSH clients against the real CLI: the OpenSSH client (through sshpass, and with an askpass script for
// many tries), paramiko, and ssh-keyscan. Each must be refused as the face's sshd refuses, and the JSON Lines
// log must hold the attempts with the client's identification and HASSH.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, startProcess, tempDir, readLog } from "../helpers.ts";

const SSH = Bun.which("ssh");
const SSHPASS = Bun.which("sshpass");
const KEYSCAN = Bun.which("ssh-keyscan");
const KEYGEN = Bun.which("ssh-keygen");
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : Bun.which("python3");

// ssh keeps the first value given for an option: LogLevel is left to each call.
const QUIET = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=no"];

async function run(cmd: string[], env: Record<string, string> = {}, ms = 40_000): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, HOME: tempDir("ssh-home-"), ...env } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), ms);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr, seconds: (performance.now() - t0) / 1000 };
}

async function trap(banner: string, seed = "client-test", log?: string) {
  return startProcess([BUN, "src/cli.ts", "ssh", "0", "--host", "127.0.0.1", "--banner", banner, "--seed", seed, ...(log ? ["--log", log] : [])], { timeoutMs: 20_000 });
}

function logins(file: string): any[] {
  return readLog(file)
    .filter((e) => e.event.action === "login");
}

describe("the OpenSSH client against micetrap ssh", () => {
  test("the clients are installed (scripts/test.sh installs openssh-client, sshpass, python3-paramiko)", () => {
    expect(SSH && SSHPASS && KEYSCAN && KEYGEN && PYTHON).toBeTruthy();
  });

  test("Debian 9 face: one wrong password is refused after PAM's pause; the log has it with the client's ident and HASSH", async () => {
    const log = join(tempDir(), "events.jsonl");
    const t = await trap("openssh-7.4p1-debian9", "client-test", log);
    try {
      const r = await run([SSHPASS!, "-p", "hunter2", SSH!, "-p", String(t.port), "-o", "LogLevel=ERROR", ...QUIET, "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "NumberOfPasswordPrompts=1", "admin@127.0.0.1", "true"]);
      expect(r.code).toBe(255);
      expect(r.stderr).toContain("admin@127.0.0.1: Permission denied (publickey,password).");
      expect(r.seconds).toBeGreaterThan(1.8);
      await Bun.sleep(200);
      const [login, ...more] = logins(log);
      expect(more).toHaveLength(0);
      expect(login.user.name).toBe("admin");
      expect(login.micetrap.login.method).toBe("password");
      expect(login.micetrap.login.password).toBe("hunter2");
      const client = login.micetrap.client;
      expect(client.version).toStartWith("SSH-2.0-OpenSSH_");
      expect(client.hassh_string.split(";")).toHaveLength(4);
      expect(client.hassh_string).toContain("curve25519-sha256");
      expect(client.hassh).toBe(createHash("md5").update(client.hassh_string).digest("hex"));
    } finally {
      await t.stop("SIGTERM");
    }
  }, 60_000);

  test("EXT_INFO as each version sent it: Debian 12 as the real Debian 12 sshd, 7.2's two RSA names, none before 7.2", async () => {
    // What `ssh -v` printed against the real sshd of openssh-server 1:9.2p1-2+deb12u10 on the development machine.
    const debian12 = [
      "kex_input_ext_info: server-sig-algs=<ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256,rsa-sha2-512>",
      "kex_input_ext_info: publickey-hostbound@openssh.com=<0>",
    ];
    const cases: [string, string[]][] = [
      ["openssh-9.2p1-debian12", debian12],
      // OpenSSH 7.2p2's kex.c sends a fixed list.
      ["openssh-7.2p2-ubuntu16.04", ["kex_input_ext_info: server-sig-algs=<rsa-sha2-256,rsa-sha2-512>"]],
      ["openssh-6.7p1-debian8", []],
    ];
    for (const [banner, want] of cases) {
      const t = await trap(banner);
      try {
        const r = await run([SSHPASS!, "-p", "x", SSH!, "-v", "-p", String(t.port), ...QUIET, "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1", "root@127.0.0.1", "true"]);
        expect(r.stderr).toContain("Permission denied");
        const got = r.stderr.split("\n").filter((l) => l.includes("kex_input_ext_info")).map((l) => l.replace(/^debug1: /, "").trim());
        expect(`${banner}: ${got.join(" | ")}`).toBe(`${banner}: ${want.join(" | ")}`);
      } finally {
        await t.stop("SIGTERM");
      }
    }
  }, 60_000);

  test("Debian 6 face: a modern client gets through DH group exchange (the only kex they share) to the password refusal", async () => {
    const t = await trap("openssh-5.5p1-debian6");
    try {
      const r = await run([SSHPASS!, "-p", "x", SSH!, "-v", "-p", String(t.port), ...QUIET, "-o", "HostKeyAlgorithms=+ssh-rsa", "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1", "root@127.0.0.1", "true"]);
      expect(r.stderr).toContain("kex: algorithm: diffie-hellman-group-exchange-sha256");
      expect(r.stderr).toContain("SSH2_MSG_KEX_DH_GEX_REPLY received");
      expect(r.stderr).toContain("root@127.0.0.1: Permission denied (publickey,password).");
      // Without ssh-rsa allowed, the client refuses as it refuses the real 5.5 (it offers ssh-rsa and ssh-dss only).
      const plain = await run([SSH!, "-p", String(t.port), "-o", "BatchMode=yes", ...QUIET, "root@127.0.0.1", "true"]);
      expect(plain.stderr).toContain("no matching host key type found. Their offer: ssh-rsa,ssh-dss");
    } finally {
      await t.stop("SIGTERM");
    }
  }, 60_000);

  test("the sixth failure gets the version's goodbye: 6.0 names the user, 7.x does not", async () => {
    const dir = tempDir();
    const askpass = join(dir, "askpass.sh");
    writeFileSync(askpass, "#!/bin/sh\necho wrong\n");
    chmodSync(askpass, 0o755);
    const env = { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" };
    for (const [banner, words] of [
      ["openssh-6.0p1-debian7", "Too many authentication failures for root"],
      ["openssh-7.4p1-debian9", "Too many authentication failures"],
    ] as const) {
      const t = await trap(banner);
      try {
        const r = await run([SSH!, "-p", String(t.port), ...QUIET, "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=10", "-o", "HostKeyAlgorithms=+ssh-rsa", "root@127.0.0.1", "true"], env, 60_000);
        expect(r.code).toBe(255);
        expect(r.stderr).toContain(`Received disconnect from 127.0.0.1 port ${t.port}:2: ${words}\r\n`);
      } finally {
        await t.stop("SIGTERM");
      }
    }
  }, 120_000);
});

const PARAMIKO = `
import sys, socket, paramiko
port, n = int(sys.argv[1]), int(sys.argv[2])
t = paramiko.Transport(socket.create_connection(("127.0.0.1", port)))
t.start_client(timeout=10)
print("version", t.remote_version)
for i in range(n):
    try:
        t.auth_password("oracle", "pw%d" % i)
        print("accepted")
    except paramiko.AuthenticationException:
        print("refused")
    except Exception as e:
        print("ended", type(e).__name__)
        break
    if not t.is_active():
        print("closed")
        break
`;

describe("paramiko against micetrap ssh", () => {
  test("Dropbear 2017.75: ten refusals of about 300 ms, then the connection is gone; every password logged", async () => {
    const log = join(tempDir(), "events.jsonl");
    const t = await trap("dropbear-2017.75", "client-test", log);
    try {
      const r = await run([PYTHON!, "-c", PARAMIKO, String(t.port), "12"]);
      const lines = r.stdout.trim().split("\n");
      expect(lines[0]).toBe("version SSH-2.0-dropbear_2017.75");
      // Ten refusals; paramiko may also report the eleventh try, cut by the close, as one more failure.
      // The trap's own log below is the count that matters: exactly ten attempts.
      expect([10, 11]).toContain(lines.filter((l) => l === "refused").length);
      expect(lines).not.toContain("accepted");
      // Gone after the tenth: paramiko sees it either before its next try or as that try's failure (the
      // close and the eleventh request race, as against the real Dropbear).
      expect(lines.at(-1)).toMatch(/^(closed|ended (ConnectionResetError|BrokenPipeError|EOFError|SSHException))$/);
      expect(r.seconds).toBeGreaterThan(2.5);
      await Bun.sleep(200);
      const seen = logins(log);
      expect(seen.map((e) => e.micetrap.login.password)).toEqual(Array.from({ length: 10 }, (_, i) => `pw${i}`));
      expect(seen[0].micetrap.client.version).toStartWith("SSH-2.0-paramiko_");
      expect(seen[0].micetrap.client.hassh).toMatch(/^[0-9a-f]{32}$/);
    } finally {
      await t.stop("SIGTERM");
    }
  }, 60_000);
});

describe("hydra (libssh) against micetrap ssh", () => {
  const HYDRA = Bun.which("hydra");
  test("a small dictionary run: every pair tried and refused, none found valid, each attempt logged with libssh's ident", async () => {
    expect(HYDRA).toBeTruthy();
    const dir = tempDir();
    const log = join(dir, "events.jsonl");
    writeFileSync(join(dir, "users"), "root\nadmin\n");
    writeFileSync(join(dir, "passwords"), "123456\npassword\n");
    const t = await trap("openssh-7.4p1-debian9", "hydra-test", log);
    try {
      const r = await run([HYDRA!, "-L", join(dir, "users"), "-P", join(dir, "passwords"), "-t", "2", "-s", String(t.port), "127.0.0.1", "ssh"]);
      expect(r.stdout).toContain("0 valid password found");
      await Bun.sleep(200);
      const tried = logins(log).map((e) => `${e.user.name}/${e.micetrap.login.password}`).sort();
      expect(tried).toEqual(["admin/123456", "admin/password", "root/123456", "root/password"]);
      for (const e of logins(log)) expect(e.micetrap.client.version).toStartWith("SSH-2.0-libssh");
    } finally {
      await t.stop("SIGTERM");
    }
  }, 60_000);
});

describe("host keys", () => {
  async function scan(seed: string): Promise<string[]> {
    const t = await trap("openssh-7.4p1-debian9", seed);
    try {
      const r = await run([KEYSCAN!, "-p", String(t.port), "-t", "rsa,ecdsa,ed25519", "127.0.0.1"]);
      const file = join(tempDir(), "keys");
      writeFileSync(file, r.stdout);
      const fp = await run([KEYGEN!, "-l", "-f", file]);
      return fp.stdout.trim().split("\n").map((l) => l.replace(/ \[127\.0\.0\.1\]:\d+/, "")).sort();
    } finally {
      await t.stop("SIGTERM");
    }
  }

  test("ssh-keyscan: the same seed shows the same keys after a restart, another seed others", async () => {
    const a1 = await scan("seed-a");
    const a2 = await scan("seed-a");
    const b = await scan("seed-b");
    expect(a1).toHaveLength(3);
    expect(a1.join("\n")).toMatch(/^2048 SHA256:\S+ \(RSA\)$/m);
    expect(a1.join("\n")).toMatch(/^256 SHA256:\S+ \(ECDSA\)$/m);
    expect(a1.join("\n")).toMatch(/^256 SHA256:\S+ \(ED25519\)$/m);
    expect(a2).toEqual(a1);
    for (const line of b) expect(a1).not.toContain(line);
  }, 60_000);
});
