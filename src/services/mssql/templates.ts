// The mssql templates. Errors are "number|state|class|message"; the login-failed message fills {{user}}.
import { schema, t } from "../schema.ts";

const ERROR = /^\d{1,6}\|\d{1,3}\|\d{1,2}\|./s;
const err = (doc: string) => t.text(doc, ERROR, '"number|state|class|message"');

export const mssqlTemplates = schema({
  version: t.text("the PRELOGIN VERSION option: major.minor.build.subbuild (what nmap reads: 11.0.6020.0)", /^\d{1,3}\.\d{1,3}\.\d{1,5}\.\d{1,5}$/, '"major.minor.build.subbuild"'),
  tdsVersion: t.flags("the newest TDS version the server speaks (0x71000001 2000, 0x72090002 2005, 0x730B0003 2008 R2, 0x74000004 2012+): a client's older one is answered in its own"),
  mars: t.bool("the PRELOGIN MARS option is answered when asked (2005+)"),
  errLoginFailed: err("a SQL Server login refused (18456): fills {{user}}"),
  errUntrusted: err("a Windows (NTLM) login refused: the account is not known (18452)"),
  ntlmVersion: t.text("the Windows version in the NTLM CHALLENGE (6.1.7601); empty: none (Windows 2000)"),
  ntlmTimestamp: t.bool("the NTLM target info carries a timestamp (Vista/2008 on)"),
});

export type MssqlTemplates = ReturnType<typeof mssqlTemplates.parse>;
