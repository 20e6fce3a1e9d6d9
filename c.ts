import { createConsola } from "consola/basic";
const c = createConsola({ level: 3, throttle: 0 } as any);
c.info("hello info"); c.log("plain log"); c.warn("warn"); c.success("ok"); c.error("err");
try { Bun.listen({hostname:"127.0.0.1", port: 22, socket:{data(){}}}); } catch(e:any){ console.log("E1", e.code, e.errno, e.message, e.syscall); }
const a = Bun.listen({hostname:"127.0.0.1", port: 0, socket:{data(){}}});
try { Bun.listen({hostname:"127.0.0.1", port: a.port, exclusive: true, socket:{data(){}}}); } catch(e:any){ console.log("E2", e.code, e.errno, e.message); }
const b = Bun.listen({hostname:"::", port: 0, socket:{data(){}}}); console.log("v6 ok", b.port, b.hostname);
a.stop(); b.stop();
