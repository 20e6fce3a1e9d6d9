// The mongodb face's BSON reader/writer against byte vectors from the BSON spec
// (bsonspec.org examples) and against hostile lengths and nesting.
import { describe, expect, test } from "bun:test";
import { decodeDoc, encodeDoc, Int32, MAX_DEPTH, RawDoc } from "../src/services/mongodb/bson.ts";
import { renderDoc } from "../src/services/mongodb/render.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

// {"hello": "world"} as printed on bsonspec.org
const HELLO = hex("16000000 02 68656c6c6f00 06000000 776f726c6400 00");
// {"BSON": ["awesome", 5.05, 1986]} as printed on bsonspec.org
const ARRAY = hex(
  "31000000 04 42534f4e00 26000000 02 3000 08000000 617765736f6d6500" +
    " 01 3100 333333333333 1440 10 3200 c2070000 00 00",
);

describe("bson", () => {
  test("decodes the spec's examples", () => {
    expect(decodeDoc(HELLO)).toEqual([{ hello: "world" }, 22]);
    expect(decodeDoc(ARRAY)).toEqual([{ BSON: ["awesome", 5.05, 1986] }, 49]);
  });

  test("encodes to the spec's bytes", () => {
    expect(encodeDoc({ hello: "world" })).toEqual(HELLO);
    expect(encodeDoc({ BSON: ["awesome", 5.05, new Int32(1986)] })).toEqual(ARRAY);
  });

  test("refuses lengths past the frame, bad terminators and unknown types", () => {
    const long = HELLO.slice();
    long[0] = 0x17;
    expect(decodeDoc(long)).toBeNull();
    const str = HELLO.slice();
    str[11] = 0x7f; // string length far past the document
    expect(decodeDoc(str)).toBeNull();
    const tail = HELLO.slice();
    tail[21] = 1;
    expect(decodeDoc(tail)).toBeNull();
    const type = HELLO.slice();
    type[4] = 0x13; // decimal128: not read by the face
    expect(decodeDoc(type)).toBeNull();
    expect(decodeDoc(new Uint8Array(3))).toBeNull();
  });

  test("refuses nesting deeper than its bound", () => {
    let doc: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < MAX_DEPTH + 2; i++) doc = { d: doc };
    expect(decodeDoc(encodeDoc(doc as never))).toBeNull();
  });

  test("echoes a document as sent, and writes a date no Date can hold as the epoch", () => {
    // {"bad cmd": {"hello": "world"}}: the inner document's bytes unchanged.
    expect(encodeDoc({ "bad cmd": new RawDoc(HELLO) })).toEqual(hex("24000000 03 62616420636d6400" + Buffer.from(HELLO).toString("hex") + "00"));
    // {"t": Date(2^62 ms)}: far past Date's range of +-8.64e15 ms.
    const far = hex("10000000 09 7400 0000000000000040 00");
    const decoded = decodeDoc(far)![0];
    expect(encodeDoc(decoded as never)).toEqual(hex("10000000 09 7400 0000000000000000 00"));
  });

  test("renders a command as mongod's messages show it: doubles with a point, int32 bare, strings quoted", () => {
    expect(renderDoc(hex("1b000000 01 73657276657253746174757300 000000000000f03f 00"))).toBe("{ serverStatus: 1.0 }");
    expect(renderDoc(hex("18000000 10 6c69737444617461626173657300 01000000 00"))).toBe("{ listDatabases: 1 }");
    expect(renderDoc(HELLO)).toBe('{ hello: "world" }');
    expect(renderDoc(ARRAY)).toBe('{ BSON: [ "awesome", 5.05, 1986 ] }');
    expect(renderDoc(hex("05000000 00"))).toBe("{}");
  });
});
