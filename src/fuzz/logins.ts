// Whole logins as real clients send them, for the protocols whose recordings never log in (nmap's probes
// stop at the banner or the challenge): the fuzzer mutates these too, so the credential parsers (MySQL's
// HandshakeResponse, NTLMSSP's AUTHENTICATE over HTTP, HTML forms, Basic on a WebUI) see hostile input.
// Built here byte by byte from the protocols' layouts; nothing in them is secret.

/** A little-endian integer as latin1 text. */
function le(n: number, width: number): string {
  let out = "";
  for (let i = 0; i < width; i++) out += String.fromCharCode((n >>> (8 * i)) & 0xff);
  return out;
}

/** A MySQL client packet: 3-byte length, sequence number, payload. */
function mysqlPacket(seq: number, payload: string): string {
  return le(payload.length, 3) + String.fromCharCode(seq) + payload;
}

/** A length-encoded string (under 251 bytes). */
const lenenc = (s: string): string => String.fromCharCode(s.length) + s;

/** A HandshakeResponse41 as libmysqlclient sends it. */
function mysqlLogin(o: { plugin: string; auth?: number; database?: string; attrs?: Record<string, string> }): string {
  // LONG_PASSWORD, LONG_FLAG, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION, MULTI_RESULTS, PLUGIN_AUTH, PLUGIN_AUTH_LENENC
  let caps = 0x1 | 0x4 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000 | 0x200000;
  if (o.database !== undefined) caps |= 0x8;
  if (o.attrs) caps |= 0x100000;
  let p = `${le(caps, 4)}${le(0x1000000, 4)}\x21${"\x00".repeat(23)}root\x00${lenenc("\xa7".repeat(o.auth ?? 20))}`;
  if (o.database !== undefined) p += `${o.database}\x00`;
  p += `${o.plugin}\x00`;
  if (o.attrs) p += lenenc(Object.entries(o.attrs).map(([k, v]) => lenenc(k) + lenenc(v)).join(""));
  return mysqlPacket(1, p);
}

const utf16 = (s: string): string => [...s].map((c) => c + "\x00").join("");

/** An NTLMSSP AUTHENTICATE (type 3) with an NTLMv2 response, as Windows and curl send it. */
function ntlmAuthenticate(user: string, domain: string, workstation: string): string {
  const lm = "\x00".repeat(24);
  const blob = `\x01\x01\x00\x00\x00\x00\x00\x00${"\x11".repeat(8)}${"\x22".repeat(8)}\x00\x00\x00\x00\x02\x00\x08\x00${utf16("CORP")}\x00\x00\x00\x00`;
  const nt = "\x33".repeat(16) + blob;
  const fields = [lm, nt, utf16(domain), utf16(user), utf16(workstation), ""];
  let at = 64;
  let head = "NTLMSSP\x00\x03\x00\x00\x00";
  for (const f of fields) {
    head += le(f.length, 2) + le(f.length, 2) + le(at, 4);
    at += f.length;
  }
  // NEGOTIATE_UNICODE, NTLM, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, 128, 56
  head += le(0xa2088205, 4);
  return head + fields.join("");
}

const base64 = (latin1: string): string => Buffer.from(latin1, "latin1").toString("base64");

/** NEGOTIATE (type 1) as Windows sends it. */
const NTLM_NEGOTIATE = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==";

const be = (n: number, width: number): string => le(n, width).split("").reverse().join("");

/** An SMB2 request in its Direct TCP frame: a 64-byte header, then the body. */
function smb2(command: number, messageId: number, body: string): string {
  const header = `\xfeSMB${le(64, 2)}${le(0, 2)}${le(0, 4)}${le(command, 2)}${le(31, 2)}${le(0, 4)}${le(0, 4)}${le(messageId, 4)}${le(0, 4)}${le(0xfeff, 4)}${le(0, 4)}${"\x00".repeat(8)}${"\x00".repeat(16)}`;
  const msg = header + body;
  return `\x00${be(msg.length, 3)}${msg}`;
}

/** SESSION_SETUP carrying an NTLMSSP message. */
function smb2SessionSetup(messageId: number, token: string): string {
  return smb2(1, messageId, `${le(25, 2)}\x00\x01${le(1, 4)}${le(0, 4)}${le(88, 2)}${le(token.length, 2)}${"\x00".repeat(8)}${token}`);
}

/** What smbclient sends to log in over SMB2: NEGOTIATE, then NTLMSSP NEGOTIATE and AUTHENTICATE. */
const SMB2_LOGIN =
  smb2(0, 0, `${le(36, 2)}${le(4, 2)}${le(1, 2)}${le(0, 2)}${le(0x7f, 4)}${"\x5a".repeat(16)}${"\x00".repeat(8)}${le(0x202, 2)}${le(0x210, 2)}${le(0x300, 2)}${le(0x302, 2)}`) +
  smb2SessionSetup(1, Buffer.from("TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==", "base64").toString("latin1")) +
  smb2SessionSetup(2, ntlmAuthenticate("guest", "WORKGROUP", "SMBCLIENT"));

/** An SMB1 NEGOTIATE offering only the oldest dialects (a DOS or OS/2 client, or smbclient -m LANMAN1). */
const SMB1_OLD_DIALECTS = (() => {
  const dialects = ["PC NETWORK PROGRAM 1.0", "MICROSOFT NETWORKS 1.03", "MICROSOFT NETWORKS 3.0", "LANMAN1.0", "LM1.2X002"].map((d) => `\x02${d}\x00`).join("");
  const msg = `\xffSMBr${le(0, 4)}\x18${le(0xc853, 2)}${"\x00".repeat(12)}${le(0, 2)}${le(0xfeff, 2)}${le(0, 2)}${le(1, 2)}\x00${le(dialects.length, 2)}${dialects}`;
  return `\x00${be(msg.length, 3)}${msg}`;
})();

/** A BitTorrent peer with the extension protocol (BEP 10): handshake, extended handshake, interest, a have. */
const LTEP_PEER = (() => {
  const message = (payload: string): string => be(payload.length, 4) + payload;
  const handshake = `\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05${"\xab".repeat(20)}-qB4500-${"k".repeat(12)}`;
  const dict = "d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881e4:reqqi500e1:v15:qBittorrent 4.5e";
  return handshake + message(`\x14\x00${dict}`) + message("\x02") + message(`\x04${be(7, 4)}`) + message("");
})();

const FORM = "log=admin&pwd=hunter2&wp-submit=Log+In&redirect_to=%2Fwp-admin%2F&testcookie=1";

export const LOGINS: Record<string, string[]> = {
  mysql: [
    mysqlLogin({ plugin: "mysql_native_password", database: "mysql", attrs: { _os: "Linux", _client_name: "libmysql", _pid: "4242", _client_version: "5.7.44", program_name: "mysql" } }),
    // An 8.0 client: its plugin is switched, and its answer comes right behind.
    mysqlLogin({ plugin: "caching_sha2_password", auth: 32 }) + mysqlPacket(3, "\x5a".repeat(20)),
    // A 4.0 client: no PROTOCOL_41, a 3-byte max packet, an 8-byte scramble.
    mysqlPacket(1, `${le(0x2485, 2)}${le(0xffffff, 3)}admin\x00${"\x51".repeat(8)}\x00`),
  ],
  http: [
    `POST /wp-login.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${FORM.length}\r\n\r\n${FORM}`,
    `POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"username":"admin","password":"secret"}`,
    `GET / HTTP/1.1\r\nHost: x\r\nAuthorization: NTLM ${NTLM_NEGOTIATE}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nAuthorization: NTLM ${base64(ntlmAuthenticate("administrator", "CORP", "KALI"))}\r\n\r\n`,
    "GET /admin HTTP/1.0\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n",
  ],
  torrent: ["GET /gui/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n", LTEP_PEER],
  samba: [SMB2_LOGIN, SMB1_OLD_DIALECTS],
};
LOGINS.https = LOGINS.http!;
