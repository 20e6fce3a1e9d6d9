// NTLM as the Cyrus SASL library's own ntlm plugin serves it (Cyrus imapd and pop3d with libsasl2-modules):
// a bare CHALLENGE without target info or version, the target name only when the client asks for it.
// Measured on Debian 12's libsasl2-modules 2.1.28: a NEGOTIATE with flags a2088207 gets flags 00028205 and
// the upper-case host name as target; one with 00000202 gets 00000202 and no target name.
import type { ProtocolEvent } from "../types.ts";
import { ByteWriter, clip, latin1Bytes, rd32, utf16 } from "./bytes.ts";
import { NTLMSSP_SIGNATURE, ntlmLoginEvent, ntlmFromBlob, parseNtlmAuth } from "./ntlmssp.ts";

const UNICODE = 0x1;
const OEM = 0x2;
const REQUEST_TARGET = 0x4;
const NTLM = 0x200;
const ALWAYS_SIGN = 0x8000;
const TARGET_TYPE_SERVER = 0x20000;

/** The plugin's CHALLENGE (type 2) for a client's NEGOTIATE flags. */
export function saslPluginChallenge(target: string, clientFlags: number, challenge: Uint8Array): Uint8Array {
  let flags = NTLM | (clientFlags & ALWAYS_SIGN);
  if (clientFlags & UNICODE) flags |= UNICODE;
  else if (clientFlags & OEM) flags |= OEM;
  const withTarget = (clientFlags & REQUEST_TARGET) !== 0;
  if (withTarget) flags |= REQUEST_TARGET | TARGET_TYPE_SERVER;
  const name = withTarget ? (flags & UNICODE ? utf16(target) : latin1Bytes(target)) : new Uint8Array(0);
  const m = new ByteWriter().bytes(NTLMSSP_SIGNATURE).u32(2);
  m.u16(name.length).u16(name.length).u32(48);
  m.u32(flags >>> 0).bytes(challenge).zeros(8).zeros(8);
  return m.bytes(name).done();
}

/** One NTLM exchange over base64 lines against the plugin: NEGOTIATE gets its CHALLENGE, AUTHENTICATE a login event. */
export class SaslPluginNtlm {
  private challenge: Uint8Array = new Uint8Array(0);
  constructor(
    private readonly target: string,
    private readonly method: string,
  ) {}

  /** The same contract as SaslNtlm.step (src/wire/sasl.ts). */
  step(msg: Uint8Array, random: (n: number) => Uint8Array, _now?: Date): { challenge?: Uint8Array; event?: ProtocolEvent } | undefined {
    const token = ntlmFromBlob(msg);
    if (!token) return undefined;
    if (token.type === 1) {
      if (token.msg.length < 16) return undefined;
      this.challenge = random(8);
      return { challenge: saslPluginChallenge(this.target, rd32(token.msg, 12), this.challenge) };
    }
    if (token.type !== 3) return undefined;
    const a = parseNtlmAuth(token.msg);
    if (!a) return undefined;
    return { event: ntlmLoginEvent(this.method, a, this.challenge) };
  }
}
