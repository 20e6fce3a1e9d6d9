// Reads what nmap reported from its XML output (-oX): per host and port, the service fields.

export interface NmapService {
  ip: string;
  port: number;
  state: string;
  name: string;
  product: string;
  version: string;
  extrainfo: string;
  ostype: string;
  hostname: string;
  devicetype: string;
  method: string;
  /** "ssl" when nmap found the service behind SSL/TLS (it prints the service as ssl/<name>). */
  tunnel: string;
  cpe: string[];
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name.startsWith("#x") || name.startsWith("#X")) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w-]+)="([^"]*)"/g)) out[m[1]!] = decode(m[2]!);
  return out;
}

export function parseNmapXml(xml: string): NmapService[] {
  const rows: NmapService[] = [];
  for (const host of xml.matchAll(/<host\b[\s\S]*?<\/host>/g)) {
    const ip = /<address addr="([^"]+)" addrtype="ipv[46]"/.exec(host[0])?.[1] ?? "";
    for (const port of host[0].matchAll(/<port protocol="tcp" portid="(\d+)">([\s\S]*?)<\/port>/g)) {
      const body = port[2]!;
      const state = attributes(/<state [^>]*>/.exec(body)?.[0] ?? "").state ?? "";
      const svcTag = /<service [^>]*>/.exec(body)?.[0] ?? "";
      const svc = attributes(svcTag);
      const cpe = [...body.matchAll(/<cpe>([^<]*)<\/cpe>/g)].map((m) => decode(m[1]!));
      rows.push({
        ip,
        port: Number(port[1]),
        state,
        name: svc.name ?? "",
        product: svc.product ?? "",
        version: svc.version ?? "",
        extrainfo: svc.extrainfo ?? "",
        ostype: svc.ostype ?? "",
        hostname: svc.hostname ?? "",
        devicetype: svc.devicetype ?? "",
        method: svc.method ?? "",
        tunnel: svc.tunnel ?? "",
        cpe,
      });
    }
  }
  return rows;
}
