// The reader of nmap-service-probes, on the file nmap installs (never a copy in the repo).
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { substitute, tryMatch } from "../../src/nmap/match.ts";
import { DEFAULT_PROBES_FILE, PortSet, loadProbeFile, parseProbeFile, parseVersionFields, unescapeProbeString } from "../../src/nmap/probes.ts";

const installed = existsSync(DEFAULT_PROBES_FILE);

describe.if(installed)("the installed nmap-service-probes", () => {
  test("probe, match and softmatch counts equal a plain count of the file's lines", () => {
    const text = readFileSync(DEFAULT_PROBES_FILE, "latin1");
    const count = (re: RegExp) => text.split("\n").filter((l) => re.test(l)).length;
    const f = loadProbeFile();
    expect(f.counts.probes).toBe(count(/^Probe /));
    expect(f.counts.matches).toBe(count(/^match /));
    expect(f.counts.softmatches).toBe(count(/^softmatch /));
    expect(f.counts.matches).toBeGreaterThan(10000);
  });
  test("every pattern translates to a JavaScript regular expression", () => {
    const f = loadProbeFile();
    expect(f.untranslated.map((m) => `line ${m.line}: ${m.untranslated}`)).toEqual([]);
  });
  test("directives land on their probes: NULL first, SMBProgNeg's ports and rarity, fallbacks", () => {
    const f = loadProbeFile();
    expect(f.probes[0]!.name).toBe("NULL");
    expect(f.probes[0]!.totalwaitms).toBe(6000);
    expect(f.probes[0]!.tcpwrappedms).toBe(3000);
    const smb = f.probes.find((p) => p.name === "SMBProgNeg")!;
    expect(smb.ports.has(445)).toBe(true);
    expect(smb.ports.has(27005)).toBe(true); // inside the 27000-27010 range
    expect(smb.ports.has(80)).toBe(false);
    expect(smb.rarity).toBe(4);
    expect(Buffer.from(smb.payload.subarray(4, 8)).toString("latin1")).toBe("\xffSMB");
    const options = f.probes.find((p) => p.name === "HTTPOptions" && p.protocol === "TCP")!;
    expect(options.fallback).toEqual(["GetRequest"]);
    expect(f.exclude.has(9100)).toBe(true);
  });
});

describe("parsing pieces", () => {
  test("probe strings unescape C escapes and \\xHH", () => {
    expect([...unescapeProbeString("GET\\r\\n\\0\\x41\\\\")]).toEqual([71, 69, 84, 13, 10, 0, 0x41, 0x5c]);
  });
  test("version fields with any delimiter, cpe flags, and repeated cpe", () => {
    const t = parseVersionFields("p|IBM OS/400 ftpd| v/$1/ i/x y/ o|OS/400| cpe:/a:ibm:os_400/a cpe:/o:ibm:os_400/");
    expect(t.p).toBe("IBM OS/400 ftpd");
    expect(t.v).toBe("$1");
    expect(t.i).toBe("x y");
    expect(t.o).toBe("OS/400");
    expect(t.cpe).toEqual(["a:ibm:os_400", "o:ibm:os_400"]);
  });
  test("port lists with ranges and T: prefixes", () => {
    const p = PortSet.parse("T:21,80,8000-8010");
    expect([21, 80, 8005, 8010].every((n) => p.has(n))).toBe(true);
    expect(p.has(8011)).toBe(false);
  });
  test("a small file end to end: a hard match fills the fields", () => {
    const f = parseProbeFile(
      [
        "Probe TCP NULL q||",
        "totalwaitms 6000",
        "match ftp m|^220 \\(vsFTPd ([\\d.]+)\\)\\r\\n| p/vsftpd/ v/$1/ o/Unix/ cpe:/a:vsftpd:vsftpd:$1/",
        "softmatch ftp m|^220 |",
      ].join("\n"),
    );
    expect(f.counts).toEqual({ probes: 1, matches: 1, softmatches: 1 });
    const info = tryMatch(f.probes[0]!.matches[0]!, "220 (vsFTPd 2.3.4)\r\n")!;
    expect([info.product, info.version, info.ostype]).toEqual(["vsftpd", "2.3.4", "Unix"]);
    expect(info.cpe).toEqual(["cpe:/a:vsftpd:vsftpd:2.3.4"]);
  });
});

describe("version template substitution, as nmap's helpers define it", () => {
  const g = [undefined, "Ab\x01c\x7f", "1_2_3", "\x00\x00\x01\x02", "\x02\x01"];
  test("$n copies the capture up to a NUL, bytes outside printable ASCII as '.'; a missing group drops the field", () => {
    // Real nmap 7.93 against an AD face prints "Domain: corp.lan0., Site: …" where its greedy capture ran on
    // into "0\x84\0": the 0x84 shown as '.', the rest cut at the NUL (docs/research/wt-ad.md).
    expect(substitute("v$1", g)).toBe("vAb.c.");
    expect(substitute("d$1", [undefined, "corp.lan0\x84\x00\x00\x00rest"])).toBe("dcorp.lan0.");
    expect(substitute("$9", g)).toBeUndefined();
  });
  test("$P keeps printable ASCII only", () => {
    expect(substitute("$P(1)", g)).toBe("Abc");
  });
  test("$SUBST replaces every occurrence", () => {
    expect(substitute('$SUBST(2,"_",".")', g)).toBe("1.2.3");
  });
  test("$I reads big- and little-endian unsigned integers", () => {
    expect(substitute('$I(3,">")', g)).toBe("258");
    expect(substitute('$I(4,"<")', g)).toBe("258");
  });
  test("cpe values are lowercased, spaces become _, reserved characters %-escaped", () => {
    expect(substitute("a:x:y:$1", ["", "My Server/2"], true)).toBe("a:x:y:my_server%2F2");
  });
  test("an unknown $ form drops the field", () => {
    expect(substitute("$Q(1)", g)).toBeUndefined();
  });
});
