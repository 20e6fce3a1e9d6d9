// ftp: the control channel before login (greeting, USER/PASS always refused, the daemon's pre-login answers).
import table from "../../../fixtures/services/ftp.json";
import type { ServiceModule } from "../../types.ts";
import { FTP_MAX_BUFFERED, startFtp } from "./session.ts";
import { ftpTemplates, type FtpTemplates } from "./templates.ts";

export const ftp: ServiceModule<FtpTemplates> = {
  name: "ftp",
  aliases: [],
  transport: "tcp",
  defaultPorts: [21],
  templates: ftpTemplates,
  table,
  start: startFtp,
  maxBuffered: FTP_MAX_BUFFERED,
  fuzzPrefixes: ["USER ", "PASS ", "SITE ", "RETR ", "\xff\xf4\xff\xf2"],
};
