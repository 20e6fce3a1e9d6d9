// The srvsvc named pipe: connection-oriented DCE/RPC (C706 chapter 12, MS-RPCE) as far as a share
// listing needs it. A bind is answered for the srvsvc interface with the NDR transfer syntax (NDR64
// refused, bind-time feature negotiation acknowledged, as smbd 4.17 does: measured), and one request
// is served: NetShareEnumAll (opnum 15, MS-SRVS 3.1.4.8) at levels 0 and 1. Everything else gets the
// fault the real server sends. The pipe is pure: bytes written in, bytes to read out, all bounded.
import { ByteWriter, concatBytes, decodeUtf16, rd16, rd32, utf16 } from "../../wire/bytes.ts";

export interface Share {
  name: string;
  /** STYPE_* (MS-SRVS 2.2.2.4): 0 disk, 1 print queue, 3 IPC; 0x80000000 marks the special (administrative) ones. */
  type: number;
  comment: string;
  /** The path NetShareGetInfo level 2 states ("C:\\tmp" as smbd writes /tmp); "" for none. */
  path: string;
  /** Connections to it now (IPC$: this one). */
  uses: number;
}

export interface PipeOptions {
  shares: Share[];
  /** The secondary address of the bind_ack: smbd 4 writes "\pipe\srvsvc", smbd 3 and Windows "\PIPE\srvsvc". */
  secondaryAddress: string;
  /** Whether bind-time feature negotiation is acknowledged (smbd 4.x, Windows Vista on); else that context is refused. */
  bindTimeFeatures: boolean;
  /**
   * The first NDR referent id's index (id = 0x20000 + 4 * index) in NetShareEnumAll's answer and in
   * NetShareGetInfo's: smbd 4.17 starts at 3 and 1 (measured), Windows at 0.
   */
  referentBase: number;
  getInfoReferentBase: number;
  /** Whether NetShareGetInfo level 2 (path, uses) is answered to this session: smbd yes, even to a guest; Windows no. */
  level2: boolean;
  /** A fresh association group id (smbd: a random 16-bit id per bind). */
  assocGroup: () => number;
}

export interface PipeEvent {
  command: string;
}

const PTYPE_REQUEST = 0;
const PTYPE_RESPONSE = 2;
const PTYPE_FAULT = 3;
const PTYPE_BIND = 11;
const PTYPE_BIND_ACK = 12;
const PFC_FIRST = 0x01;
const PFC_LAST = 0x02;
const PFC_DID_NOT_EXECUTE = 0x20;
const PFC_OBJECT_UUID = 0x80;

/** Fault statuses (C706 appendix E, MS-RPCE 2.2.2.11). */
export const NCA_S_OP_RNG_ERROR = 0x1c010002;
export const NCA_S_UNK_IF = 0x1c010003;
export const NCA_S_PROTO_ERROR = 0x1c01000b;
export const NCA_S_FAULT_NDR = 0x000006f7;
export const NCA_S_FAULT_REMOTE_NO_MEMORY = 0x1c000014;

/** The largest fragment smbd takes (its max_recv_frag); a longer one is a protocol error. */
export const MAX_FRAG = 5840;
/** The most request stub kept across fragments; past it the call fails, as a server out of memory. */
export const MAX_STUB = 8 * 1024;
/** Output waiting to be read is bounded too: one response, fragmented, for a bounded share list. */
const MAX_PENDING = 8 * 1024;
/** The most one pipe holds: a PDU being written, a request stub being gathered, output not yet read. */
export const PIPE_MAX_BUFFERED = MAX_FRAG + MAX_STUB + MAX_PENDING;

// Interface and transfer syntax ids as they appear on the wire (GUID little-endian fields, then the version).
const SRVSVC = hexBytes("c84f324b7016d30112785a47bf6ee188");
const NDR = hexBytes("045d888aeb1cc9119fe808002b10486002000000");
/** Bind-time feature negotiation: 6cb71c2c-9812-4540-XXXX-000000000000, the XXXX bits being the features asked. */
const BTFN_PREFIX = hexBytes("2c1cb76c12984045");
/** The features smbd 4.17 acknowledges: security context multiplexing and keep connection on orphan. */
const BTFN_SUPPORTED = 0x0003;

function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!.map((x) => Number.parseInt(x, 16)));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bounded NDR reader over a request stub: every read past the end marks it broken instead of throwing. */
class NdrReader {
  at = 0;
  bad = false;
  constructor(private readonly b: Uint8Array) {}
  align(n: number): void {
    this.at = (this.at + n - 1) & ~(n - 1);
  }
  u32(): number {
    this.align(4);
    if (this.at + 4 > this.b.length) {
      this.bad = true;
      return 0;
    }
    const v = rd32(this.b, this.at);
    this.at += 4;
    return v;
  }
  /** A conformant varying UTF-16 string; at most `max` characters are decoded. */
  wstring(max: number): string {
    const maxCount = this.u32();
    const offset = this.u32();
    const actual = this.u32();
    if (this.bad || offset > maxCount || actual > maxCount - offset || this.at + 2 * actual > this.b.length) {
      this.bad = true;
      return "";
    }
    const text = decodeUtf16(this.b.subarray(this.at, this.at + 2 * Math.min(actual, max)));
    this.at += 2 * actual;
    return text.replace(/\0+$/, "");
  }
}

/** NDR writer for the response stub: little-endian, 4-byte aligned, referent ids counted as smbd counts them. */
class NdrWriter {
  readonly w = new ByteWriter();
  private ref: number;
  constructor(base: number) {
    this.ref = base;
  }
  u32(v: number): void {
    while (this.w.length % 4 !== 0) this.w.u8(0);
    this.w.u32(v);
  }
  pointer(present: boolean): void {
    this.u32(present ? 0x00020000 + 4 * this.ref++ : 0);
  }
  wstring(s: string): void {
    const n = s.length + 1;
    this.u32(n);
    this.u32(0);
    this.u32(n);
    this.w.bytes(utf16(s)).u16(0);
  }
}

export class SrvsvcPipe {
  private input: Uint8Array = new Uint8Array(0);
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private accepted = new Set<number>();
  private bound = false;
  private broken = false;
  private maxXmit = 4280;
  /** Stub of a fragmented request being gathered. */
  private stub: Uint8Array[] = [];
  private stubBytes = 0;
  private stubOverflow = false;

  constructor(private readonly o: PipeOptions) {}

  /** Bytes the client may read now. */
  get available(): number {
    return this.pendingBytes;
  }

  /** Bytes held: a partial PDU, a partial request stub, output not yet read. */
  get buffered(): number {
    return this.input.length + this.stubBytes + this.pendingBytes;
  }

  /** True once the server side has given up on this pipe (a protocol error): writes fail from then on. */
  get disconnected(): boolean {
    return this.broken;
  }

  /** Takes up to `max` bytes of output; `more` says whether the message goes on (STATUS_BUFFER_OVERFLOW). */
  read(max: number): { data: Uint8Array; more: boolean } {
    const first = this.pending[0];
    if (!first) return { data: new Uint8Array(0), more: false };
    // Message mode: one read returns at most one PDU; the rest of it stays for the next read.
    if (first.length <= max) {
      this.pending.shift();
      this.pendingBytes -= first.length;
      return { data: first, more: false };
    }
    const n = Math.max(0, max);
    this.pending[0] = first.subarray(n);
    this.pendingBytes -= n;
    return { data: first.subarray(0, n), more: true };
  }

  /** Bytes the client writes into the pipe; complete PDUs are answered into the output. */
  write(data: Uint8Array): PipeEvent[] {
    const events: PipeEvent[] = [];
    let at = 0;
    // At most one PDU is held at a time (a header, then up to its fragment length), whatever is written.
    while (at < data.length && !this.broken) {
      const want = this.input.length < 16 ? 16 : rd16(this.input, 8);
      const n = Math.min(want - this.input.length, data.length - at);
      this.input = concatBytes([this.input, data.subarray(at, at + n)]);
      at += n;
      if (this.input.length < want) break;
      const h = this.input;
      if (want === 16) {
        const fragLen = rd16(h, 8);
        if (h[0] !== 5 || h[1] !== 0 || (h[4]! & 0xf0) !== 0x10 || fragLen < 16 || fragLen > MAX_FRAG) {
          this.fault(rd32(h, 12), NCA_S_PROTO_ERROR, 0);
          this.broken = true;
          this.input = new Uint8Array(0);
          break;
        }
        if (fragLen > 16) continue;
      }
      this.input = new Uint8Array(0);
      const e = this.pdu(h);
      if (e) events.push(e);
    }
    return events;
  }

  private push(b: Uint8Array): void {
    if (this.pendingBytes + b.length > MAX_PENDING) return;
    this.pending.push(b);
    this.pendingBytes += b.length;
  }

  private header(ptype: number, flags: number, callId: number, body: Uint8Array): Uint8Array {
    const w = new ByteWriter().u8(5).u8(0).u8(ptype).u8(flags).bytes([0x10, 0, 0, 0]).u16(16 + body.length).u16(0).u32(callId);
    return concatBytes([w.done(), body]);
  }

  private fault(callId: number, status: number, ctxId: number): void {
    const body = new ByteWriter().u32(24).u16(ctxId).u8(0).u8(0).u32(status).u32(0).done();
    this.push(this.header(PTYPE_FAULT, PFC_FIRST | PFC_LAST | PFC_DID_NOT_EXECUTE, callId, body));
  }

  private pdu(p: Uint8Array): PipeEvent | undefined {
    const ptype = p[2]!;
    const flags = p[3]!;
    const callId = rd32(p, 12);
    if (ptype === PTYPE_BIND) return this.bind(p, callId);
    if (ptype === PTYPE_REQUEST) return this.request(p, flags, callId);
    // Anything else (alter context, auth3, orphaned, …) is not served here: a protocol error ends the pipe.
    this.fault(callId, NCA_S_PROTO_ERROR, 0);
    this.broken = true;
    return undefined;
  }

  private bind(p: Uint8Array, callId: number): PipeEvent | undefined {
    if (this.bound || p.length < 28) {
      this.fault(callId, NCA_S_PROTO_ERROR, 0);
      this.broken = true;
      return undefined;
    }
    const maxXmit = rd16(p, 16);
    const maxRecv = rd16(p, 18);
    const count = p[24]!;
    const results = new ByteWriter();
    let at = 28;
    let n = 0;
    const names: string[] = [];
    for (let i = 0; i < count && i < 32; i++) {
      if (at + 24 > p.length) break;
      const ctxId = rd16(p, at);
      const nTransfer = p[at + 2]!;
      const abstract = p.subarray(at + 4, at + 24);
      at += 24;
      let result = 2;
      let reason = 2; // provider rejection: proposed transfer syntaxes not supported
      let syntax: Uint8Array = new Uint8Array(20);
      const isSrvsvc = equal(abstract.subarray(0, 16), SRVSVC) && rd16(abstract, 16) === 3 && rd16(abstract, 18) === 0;
      for (let k = 0; k < nTransfer; k++) {
        if (at + 20 > p.length) break;
        const ts = p.subarray(at, at + 20);
        at += 20;
        if (result === 0 || result === 3) continue;
        if (equal(ts.subarray(0, 8), BTFN_PREFIX) && this.o.bindTimeFeatures) {
          result = 3; // negotiate_ack: the reason field carries the features granted
          reason = rd16(ts, 8) & BTFN_SUPPORTED;
        } else if (!isSrvsvc) {
          reason = 1; // abstract syntax not supported
        } else if (equal(ts, NDR)) {
          result = 0;
          reason = 0;
          syntax = ts;
          this.accepted.add(ctxId);
        }
      }
      if (result === 0) names.push("srvsvc");
      results.u16(result).u16(reason).bytes(syntax);
      n++;
    }
    this.maxXmit = Math.min(maxRecv || 4280, MAX_FRAG);
    this.bound = true;
    const addr = [...this.o.secondaryAddress].map((c) => c.charCodeAt(0) & 0xff);
    const body = new ByteWriter()
      .u16(Math.min(maxXmit || 4280, MAX_FRAG))
      .u16(Math.min(maxRecv || 4280, MAX_FRAG))
      .u32(this.o.assocGroup())
      .u16(addr.length + 1)
      .bytes(addr)
      .u8(0);
    while ((16 + body.length) % 4 !== 0) body.u8(0);
    body.u8(n).zeros(3).bytes(results.done());
    this.push(this.header(PTYPE_BIND_ACK, PFC_FIRST | PFC_LAST, callId, body.done()));
    return { command: `DCERPC bind ${names.length > 0 ? "srvsvc" : "refused"}` };
  }

  private request(p: Uint8Array, flags: number, callId: number): PipeEvent | undefined {
    if (!this.bound) {
      this.fault(callId, NCA_S_PROTO_ERROR, 0);
      this.broken = true;
      return undefined;
    }
    const ctxId = rd16(p, 20);
    const opnum = rd16(p, 22);
    const stubAt = 24 + (flags & PFC_OBJECT_UUID ? 16 : 0);
    const part = p.subarray(Math.min(stubAt, p.length));
    if (flags & PFC_FIRST) {
      this.stub = [];
      this.stubBytes = 0;
      this.stubOverflow = false;
    }
    if (this.stubBytes + part.length > MAX_STUB) this.stubOverflow = true;
    else {
      this.stub.push(part.slice());
      this.stubBytes += part.length;
    }
    if (!(flags & PFC_LAST)) return undefined;
    const stub = concatBytes(this.stub);
    this.stub = [];
    this.stubBytes = 0;
    if (this.stubOverflow) {
      this.fault(callId, NCA_S_FAULT_REMOTE_NO_MEMORY, ctxId);
      return undefined;
    }
    if (!this.accepted.has(ctxId)) {
      this.fault(callId, NCA_S_UNK_IF, ctxId);
      return undefined;
    }
    if (opnum === 16) return this.getInfo(stub, callId, ctxId);
    if (opnum !== 15) {
      this.fault(callId, NCA_S_OP_RNG_ERROR, ctxId);
      return { command: `srvsvc opnum ${opnum}` };
    }
    const r = new NdrReader(stub);
    const serverPtr = r.u32();
    const server = serverPtr !== 0 ? r.wstring(256) : "";
    const level = r.u32();
    r.u32(); // the union's switch
    const ctrPtr = r.u32();
    if (ctrPtr !== 0) {
      r.u32(); // count
      // A client sends an empty container: an array in it is more than this server reads.
      if (r.u32() !== 0) r.bad = true;
    }
    r.u32(); // prefmaxlen
    const wantResume = r.u32() !== 0;
    if (wantResume) r.u32();
    if (r.bad) {
      this.fault(callId, NCA_S_FAULT_NDR, ctxId);
      return { command: "srvsvc NetShareEnumAll (malformed)" };
    }
    const out = this.shareEnum(level, wantResume);
    this.respond(callId, ctxId, out);
    return { command: `srvsvc NetShareEnumAll level ${level}${server ? ` \\\\${server.replace(/^\\+/, "").slice(0, 64)}` : ""}` };
  }

  /** NetShareGetInfo (opnum 16, MS-SRVS 3.1.4.10): levels 0, 1 and 2 of one share. */
  private getInfo(stub: Uint8Array, callId: number, ctxId: number): PipeEvent {
    const r = new NdrReader(stub);
    if (r.u32() !== 0) r.wstring(256);
    const name = r.wstring(256);
    const level = r.u32();
    if (r.bad) {
      this.fault(callId, NCA_S_FAULT_NDR, ctxId);
      return { command: "srvsvc NetShareGetInfo (malformed)" };
    }
    const share = this.o.shares.find((x) => x.name.toUpperCase() === name.toUpperCase());
    const w = new NdrWriter(this.o.getInfoReferentBase);
    w.u32(level);
    const werr = !share ? 0x7b /* WERR_INVALID_NAME */ : level > 2 ? 124 /* WERR_INVALID_LEVEL */ : level === 2 && !this.o.level2 ? 5 /* WERR_ACCESS_DENIED */ : 0;
    if (werr !== 0 || !share) {
      w.pointer(false);
      w.u32(werr);
    } else {
      w.pointer(true);
      w.pointer(true);
      if (level >= 1) {
        w.u32(share.type >>> 0);
        w.pointer(true);
      }
      if (level === 2) {
        w.u32(0); // permissions
        w.u32(0xffffffff); // max uses: unlimited
        w.u32(share.uses);
        w.pointer(true);
        w.pointer(true);
      }
      w.wstring(share.name);
      if (level >= 1) w.wstring(share.comment);
      if (level === 2) {
        w.wstring(share.path);
        w.wstring("");
      }
      w.u32(0);
    }
    this.respond(callId, ctxId, w.w.done());
    return { command: `srvsvc NetShareGetInfo ${name.slice(0, 80)} level ${level}` };
  }

  private shareEnum(level: number, resume: boolean): Uint8Array {
    const w = new NdrWriter(this.o.referentBase);
    const shares = this.o.shares;
    w.u32(level);
    w.u32(level);
    if (level !== 0 && level !== 1) {
      w.pointer(false);
      w.u32(0);
      w.pointer(resume);
      if (resume) w.u32(0);
      w.u32(124); // WERR_INVALID_LEVEL
      return w.w.done();
    }
    w.pointer(true); // the container
    w.u32(shares.length);
    w.pointer(shares.length > 0);
    if (shares.length > 0) {
      w.u32(shares.length);
      for (const _s of shares) {
        w.pointer(true);
        if (level === 1) {
          w.u32(_s.type >>> 0);
          w.pointer(true);
        }
      }
      for (const s of shares) {
        w.wstring(s.name);
        if (level === 1) w.wstring(s.comment);
      }
    }
    w.u32(shares.length); // total entries
    w.pointer(resume);
    if (resume) w.u32(0);
    w.u32(0); // WERR_OK
    return w.w.done();
  }

  /** A response, in as many fragments as the client's receive size asks. */
  private respond(callId: number, ctxId: number, stub: Uint8Array): void {
    const room = Math.max(this.maxXmit - 24, 8) & ~7;
    for (let at = 0; at === 0 || at < stub.length; at += room) {
      const part = stub.subarray(at, at + room);
      const flags = (at === 0 ? PFC_FIRST : 0) | (at + room >= stub.length ? PFC_LAST : 0);
      const body = new ByteWriter().u32(stub.length - at).u16(ctxId).u8(0).u8(0).bytes(part).done();
      this.push(this.header(PTYPE_RESPONSE, flags, callId, body));
    }
  }
}
