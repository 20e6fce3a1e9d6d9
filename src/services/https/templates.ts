// The https templates: an https face serves the pages and headers of an http face of the same product
// (Debian's default-ssl site shares /var/www with the plain one; IIS binds one site to both ports), so an
// entry names that http entry instead of repeating its templates. The TLS side is the entry's `tls` key.
import table from "../../../fixtures/services/http.json";
import { SchemaError, schema, t, type Schema } from "../schema.ts";
import { httpTemplates, type HttpTemplates } from "../http/templates.ts";

const face = schema({
  httpFace: t.text("id of the http entry (fixtures/services/http.json) whose pages, headers and timing this face serves"),
});

/** The http entries' raw templates by id, read once. */
let httpRaw: Map<string, unknown> | undefined;
function rawHttpEntry(id: string): unknown {
  httpRaw ??= new Map((table.entries as { id: string; templates: unknown }[]).map((e) => [e.id, e.templates]));
  return httpRaw.get(id);
}

/** Parses `{ httpFace }` into the named http entry's templates, which the http session then runs. */
export type HttpsTemplates = HttpTemplates & { httpFace: string };

export const httpsTemplates: Schema<HttpsTemplates> = {
  shape: face.shape,
  parse(raw, path) {
    const { httpFace } = face.parse(raw, path);
    const templates = rawHttpEntry(httpFace);
    const at = path.endsWith(":") ? `${path} httpFace` : `${path}.httpFace`;
    if (templates === undefined) throw new SchemaError(at, `no http entry "${httpFace}" (see fixtures/services/http.json)`);
    // The name stays with the templates: the host plan pairs this face with its own http face by it.
    return { ...httpTemplates.parse(templates, `fixtures/services/http.json: entry ${httpFace}: templates`), httpFace };
  },
  describe: () => face.describe(),
};
