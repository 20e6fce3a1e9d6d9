// ssh2's internal modules, reached by path (ssh2 is pinned at 1.17.0 in package.json): typed loosely here
// and narrowed in ssh2-internals.ts, the one file that touches them.
declare module "ssh2/lib/protocol/kex.js" {
  const kex: { KexInit: new (lists: unknown) => unknown };
  export default kex;
}
declare module "ssh2/lib/protocol/utils.js" {
  const utils: {
    sendPacket(proto: unknown, packet: Uint8Array, bypass?: boolean): boolean;
    doFatalError(proto: unknown, msg: string, level: string, reason: number): unknown;
  };
  export default utils;
}
declare module "ssh2/lib/protocol/constants.js" {
  const constants: { SUPPORTED_KEX: string[]; SUPPORTED_SERVER_HOST_KEY: string[]; SUPPORTED_CIPHER: string[]; SUPPORTED_MAC: string[]; SUPPORTED_COMPRESSION: string[] };
  export default constants;
}
declare module "ssh2/lib/server.js" {
  const server: { IncomingClient: new (socket: unknown, hostKeys: unknown, ident: Uint8Array, offer: unknown, debug: unknown, server: unknown, config: object) => unknown };
  export default server;
}
