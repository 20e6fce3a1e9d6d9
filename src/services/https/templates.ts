// The https templates: an https face serves the pages and headers of an http face of the same product
// (Debian's default-ssl site shares /var/www with the plain one; IIS binds one site to both ports), so an
// entry names that http entry instead of repeating its templates. The TLS side is the entry's `tls` key.
import table from "../../../fixtures/services/http.json";
import { optional, SchemaError, schema, t, type Field, type Schema } from "../schema.ts";
import { httpTemplates, type HttpTemplates } from "../http/templates.ts";

const plainOnTlsShape = schema({
  request: t.oneOf(
    "the request the product answers in its place: 0.9 (Apache 2.2 fakes `GET /`, so the page goes out bare), 1.0 (Apache 2.4 fakes `GET / HTTP/1.0`: status line and the http face's error headers), 1.1 (nginx: as for any HTTP/1.1 error)",
    ["0.9", "1.0", "1.1"] as const,
  ),
  body: t.text("the page: {{server}}, {{servername}}, {{port}} and {{https_port}} (\":port\" unless 443) filled"),
});

const face = schema({
  httpFace: t.text("id of the http entry (fixtures/services/http.json) whose pages, headers and timing this face serves"),
  plainOnTls: optional({
    kind: "object",
    doc: "how the product answers a plain HTTP request on its TLS port: request (0.9, 1.0, 1.1) and body; absent: the handshake fails (IIS)",
    optional: true,
    parse: (v, p) => plainOnTlsShape.parse(v, `${p}.`) as PlainOnTls,
  } as Field<PlainOnTls>),
});

/** The http entries' raw templates by id, read once. */
let httpRaw: Map<string, unknown> | undefined;
function rawHttpEntry(id: string): unknown {
  httpRaw ??= new Map((table.entries as { id: string; templates: unknown }[]).map((e) => [e.id, e.templates]));
  return httpRaw.get(id);
}

/** A plain HTTP request where the handshake should be: how the product answers it (none: the handshake fails). */
export interface PlainOnTls {
  request: "0.9" | "1.0" | "1.1";
  body: string;
}

export type HttpsTemplates = HttpTemplates & { httpFace: string; plainOnTls?: PlainOnTls };

/** Parses `{ httpFace, plainOnTls }` into the named http entry's templates, which the http session then runs. */

export const httpsTemplates: Schema<HttpsTemplates> = {
  shape: face.shape,
  parse(raw, path) {
    const { httpFace, plainOnTls } = face.parse(raw, path);
    const templates = rawHttpEntry(httpFace);
    const at = path.endsWith(":") ? `${path} httpFace` : `${path}.httpFace`;
    if (templates === undefined) throw new SchemaError(at, `no http entry "${httpFace}" (see fixtures/services/http.json)`);
    // The name stays with the templates: the host plan pairs this face with its own http face by it.
    return {
      ...httpTemplates.parse(templates, `fixtures/services/http.json: entry ${httpFace}: templates`),
      httpFace,
      ...(plainOnTls ? { plainOnTls } : {}),
    };
  },
  describe: () => face.describe(),
};
