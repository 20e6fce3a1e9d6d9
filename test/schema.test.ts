// Every catalog entry is parsed against its service's schema at load; a bad one is refused with one line
// that names the file, the entry and the key.
import { describe, expect, test } from "bun:test";
import { validateTable } from "../src/catalog/validate.ts";
import { SERVICE_MODULES, serviceModule } from "../src/services/index.ts";

const ftp = serviceModule("ftp");
const mysql = serviceModule("mysql");

/** A copy of the first real ftp entry, changed by `edit`. */
function ftpTableWith(edit: (entry: Record<string, any>) => void): unknown {
  const table = structuredClone(ftp.table) as { service: string; entries: Record<string, any>[] };
  const entry = table.entries[0]!;
  edit(entry);
  table.entries = [entry];
  return table;
}

function refusal(raw: unknown, module = ftp): string {
  try {
    validateTable(raw, module);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("the table was accepted");
}

describe("catalog schema", () => {
  test("every shipped table parses, and every entry carries typed templates", () => {
    for (const m of SERVICE_MODULES) {
      const entries = validateTable(m.table, m);
      expect(entries.length).toBeGreaterThan(0);
      for (const e of entries) expect(e.service).toBe(m.name);
    }
    const vsftpd = validateTable(ftp.table, ftp).find((e) => e.id === "vsftpd-2.3.4")!;
    const t = vsftpd.templates as { maxLoginFails: number; commands: Record<string, string>; deniedUsers: string[] };
    expect(t.maxLoginFails).toBe(3);
    expect(t.commands.FEAT).toStartWith("211-Features:");
    expect(t.deniedUsers).toEqual([]); // absent in the data: the schema's default
  });

  test("a misspelt key is refused, with the file, the entry, the key and the likely intent", () => {
    const msg = refusal(
      ftpTableWith((e) => {
        e.templates.baner = e.templates.banner;
        delete e.templates.banner;
      }),
    );
    expect(msg).toBe("fixtures/services/ftp.json: entry vsftpd-2.3.4: templates.baner: unknown key (did you mean banner?)");
  });

  test("a wrongly typed value is refused", () => {
    expect(refusal(ftpTableWith((e) => (e.templates.maxLoginFails = "three")))).toBe(
      'fixtures/services/ftp.json: entry vsftpd-2.3.4: templates.maxLoginFails: expected a whole number, got "three"',
    );
    expect(refusal(ftpTableWith((e) => (e.templates.deniedUsers = "root bin")))).toContain("templates.deniedUsers: expected a list");
    expect(refusal(ftpTableWith((e) => (e.templates.lineTooLongAction = "drop")))).toContain(
      "templates.lineTooLongAction: expected one of split, skip, close",
    );
    expect(refusal(ftpTableWith((e) => (e.templates.commands = { FEAT: 211 })))).toContain("templates.commands.FEAT: expected text, got 211");
  });

  test("a missing key is refused, naming what it should hold", () => {
    const msg = refusal(ftpTableWith((e) => delete e.templates.banner));
    expect(msg).toStartWith("fixtures/services/ftp.json: entry vsftpd-2.3.4: templates.banner: missing (text: greeting sent on open)");
  });

  test("entry fields outside the templates are checked the same way", () => {
    expect(refusal(ftpTableWith((e) => (e.os = "beos")))).toContain("entry vsftpd-2.3.4: os: expected one of debian, rhel, freebsd, macos, windows");
    expect(refusal(ftpTableWith((e) => (e.id = "Bad Id")))).toContain("entry Bad Id: id: expected lowercase [a-z0-9._-]");
    expect(refusal(ftpTableWith((e) => (e.ports = [21, 70000])))).toContain("entry vsftpd-2.3.4: ports[1]: expected a whole number from 1 to 65535");
    expect(refusal(ftpTableWith((e) => (e.weight = 0)))).toContain("entry vsftpd-2.3.4: weight: expected a number above 0");
    expect(refusal(ftpTableWith((e) => (e.colour = "red")))).toContain("entry vsftpd-2.3.4: colour: unknown key");
  });

  test("bit masks are 0x hex text and error specs have their shape", () => {
    const table = structuredClone(mysql.table) as { entries: Record<string, any>[] };
    table.entries = [table.entries[0]!];
    table.entries[0]!.templates.capabilities = 41516;
    expect(refusal(table, mysql)).toContain('templates.capabilities: expected a "0x…" hex bit mask, got 41516');
    table.entries[0]!.templates.capabilities = "0xa22c";
    table.entries[0]!.templates.errHandshake = "Bad handshake";
    expect(refusal(table, mysql)).toContain('templates.errHandshake: expected "errno:SQLSTATE:message"');
  });

  test("a table of another service, or duplicate ids, are refused", () => {
    expect(refusal({ ...(ftp.table as object), service: "http" })).toBe('fixtures/services/ftp.json: service: must be "ftp"');
    const table = structuredClone(ftp.table) as { entries: unknown[] };
    table.entries = [table.entries[0], table.entries[0]];
    expect(refusal(table)).toBe("fixtures/services/ftp.json: entry vsftpd-2.3.4: id: duplicate id");
  });

  test("every service module is complete: name, usual ports, schema docs, fuzz seeds", () => {
    for (const m of SERVICE_MODULES) {
      expect(m.name).toMatch(/^[a-z][a-z0-9]*$/);
      expect(m.defaultPorts.length).toBeGreaterThan(0);
      expect(m.fuzzPrefixes.length).toBeGreaterThan(0);
      for (const line of m.templates.describe()) expect(line).toMatch(/^[a-z][A-Za-z0-9]*\?? \(.+\): .+/);
    }
  });
});

describe("durations", () => {
  test("milliseconds or [min, max], drawn per use within the range", async () => {
    const { t, drawMs } = await import("../src/services/schema.ts");
    const f = t.ms("a pause");
    expect(f.parse(3000, "x")).toEqual({ min: 3000, max: 3000 });
    expect(f.parse([2600, 3400], "x")).toEqual({ min: 2600, max: 3400 });
    expect(() => f.parse([3400, 2600], "x")).toThrow("x: expected [min, max] with min <= max");
    expect(() => f.parse("3s", "x")).toThrow('x: expected milliseconds from 0 to 86400000, got "3s"');
    const { seededBytes } = await import("../src/util/random.ts");
    const random = seededBytes("d");
    const drawn = Array.from({ length: 500 }, () => drawMs({ min: 2600, max: 3400 }, random));
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(2600);
    expect(Math.max(...drawn)).toBeLessThanOrEqual(3400);
    expect(new Set(drawn).size).toBeGreaterThan(100);
  });
});
