// Debian's ldap-utils against the real CLI: ldapsearch reads the root DSE (the naming context is the fake
// host's domain), ldapwhoami's simple bind is refused with "Invalid credentials (49)", and the JSON Lines
// log holds that login with its DN and password; against an Active Directory face the same, in AD's words.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const LDAPSEARCH = Bun.which("ldapsearch");
const LDAPWHOAMI = Bun.which("ldapwhoami");

async function run(cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    // No ~/.ldaprc or /etc/ldap/ldap.conf defaults of the machine: only what the command line says.
    env: { ...process.env, HOME: tempDir("ldap-client-home-"), LDAPNOINIT: "1" },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("ldap-utils against micetrap ldap", () => {
  test("the clients are installed (scripts/test.sh installs ldap-utils)", () => {
    expect(LDAPSEARCH).toBeDefined();
    expect(LDAPWHOAMI).toBeDefined();
  });

  for (const banner of ["openldap-2.5.13-debian12", "openldap-2.4.31-debian7"]) {
    test(`${banner}: ldapsearch reads the root DSE; ldapwhoami is refused and its DN and password are logged`, async () => {
      const dir = tempDir();
      const logFile = join(dir, "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "ldap", "0", "--host", "127.0.0.1", "--banner", banner, "--seed", "client-test", "--log", logFile]);
      let dn = "";
      try {
        const url = `ldap://127.0.0.1:${t.port}`;
        const search = await run([LDAPSEARCH!, "-x", "-LLL", "-H", url, "-s", "base", "-b", "", "+"]);
        expect(search.code).toBe(0);
        const ctx = /^namingContexts: (dc=.+)$/m.exec(search.stdout);
        expect(ctx).not.toBeNull();
        dn = `cn=admin,${ctx![1]}`;
        expect(search.stdout).toContain("structuralObjectClass: OpenLDAProotDSE");
        expect(search.stdout).toContain("supportedLDAPVersion: 3");

        const who = await run([LDAPWHOAMI!, "-x", "-H", url, "-D", dn, "-w", "Winter2024!"]);
        expect(who.code).toBe(49);
        expect(who.stderr.trim()).toBe("ldap_bind: Invalid credentials (49)");
        await Bun.sleep(200); // the JSONL sink writes once per turn of the event loop
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const logins = readLog(logFile).filter((e) => e.event.action === "login");
      expect(logins).toHaveLength(1);
      expect(logins[0].user.name).toBe(dn);
      expect(logins[0].micetrap.login.password).toBe("Winter2024!");
      expect(logins[0].micetrap.login.method).toBe("ldap-simple");
      expect(logins[0].event.outcome).toBe("failure");
      expect(logins[0].micetrap.entry).toBe(banner);
    });
  }

  test("ad-ldap-windows-2012r2: ldapsearch reads AD's rootDSE; a simple bind as user@domain is refused with AD's 52e text and logged", async () => {
    const banner = "ad-ldap-windows-2012r2";
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "ldap", "0", "--host", "127.0.0.1", "--banner", banner, "--seed", "client-test", "--log", logFile]);
    let user = "";
    try {
      const url = `ldap://127.0.0.1:${t.port}`;
      const search = await run([LDAPSEARCH!, "-x", "-LLL", "-H", url, "-s", "base", "-b", ""]);
      expect(search.code).toBe(0);
      const ctx = /^defaultNamingContext: (DC=.+)$/m.exec(search.stdout);
      expect(ctx).not.toBeNull();
      expect(search.stdout).toMatch(/^dsServiceName: CN=NTDS Settings,CN=/m);
      expect(search.stdout).toContain("supportedCapabilities: 1.2.840.113556.1.4.800");
      expect(search.stdout).toContain("domainControllerFunctionality: 6");
      user = `administrator@${ctx![1]!.replace(/DC=/g, "").replace(/,/g, ".")}`;
      // Below the root nothing without a bind.
      const below = await run([LDAPSEARCH!, "-x", "-LLL", "-H", url, "-b", ctx![1]!, "(sAMAccountName=*)"]);
      expect(below.code).toBe(1);
      expect(below.stderr).toContain("000004DC: LdapErr: DSID-0C0907C2, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v2580");

      const who = await run([LDAPWHOAMI!, "-x", "-H", url, "-D", user, "-w", "Winter2024!"]);
      expect(who.code).toBe(49);
      expect(who.stderr).toContain("ldap_bind: Invalid credentials (49)");
      expect(who.stderr).toContain("additional info: 80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 52e, v2580");
      await Bun.sleep(200); // the JSONL sink writes once per turn of the event loop
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const logins = readLog(logFile).filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0].user.name).toBe(user);
    expect(logins[0].micetrap.login.password).toBe("Winter2024!");
    expect(logins[0].micetrap.login.method).toBe("ldap-simple");
    expect(logins[0].micetrap.entry).toBe(banner);
  });
});
