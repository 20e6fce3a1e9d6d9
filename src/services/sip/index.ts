// sip: SIP over TCP (port 5060) as a chan_sip PBX answers it, up to a refused REGISTER.
import table from "../../../fixtures/services/sip.json";
import type { ServiceModule } from "../../types.ts";
import { SIP_MAX_BUFFERED, startSip } from "./session.ts";
import { sipTemplates, type SipTemplates } from "./templates.ts";

export const sip: ServiceModule<SipTemplates> = {
  name: "sip",
  aliases: [],
  transport: "tcp",
  defaultPorts: [5060],
  templates: sipTemplates,
  table,
  start: startSip,
  maxBuffered: SIP_MAX_BUFFERED,
  fuzzPrefixes: [
    // nmap's SIPOptions, a REGISTER, and a REGISTER carrying a digest answer.
    "OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/TCP nm;branch=foo\r\nFrom: <sip:nm@nm>;tag=root\r\nTo: <sip:nm2@nm2>\r\nCall-ID: 50000\r\nCSeq: 42 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\nContact: <sip:nm@nm>\r\nAccept: application/sdp\r\n\r\n",
    "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:100@127.0.0.1>;tag=a\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: 1@x\r\nCSeq: 1 REGISTER\r\nContact: <sip:100@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n",
    'REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK2\r\nFrom: <sip:100@127.0.0.1>;tag=a\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: 1@x\r\nCSeq: 2 REGISTER\r\nAuthorization: Digest username="100", realm="asterisk", nonce="1a2b3c4d", uri="sip:127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5\r\nContent-Length: 0\r\n\r\n',
  ],
};
