// The pop3s templates: the daemon on 995 is the one on 110 with TLS from the first byte (one dovecot.conf,
// one pop3d), so an entry names that pop3 entry instead of repeating its templates. The TLS side is the
// entry's `tls` key; the session starts secure (capaSecure, no STLS).
import table from "../../../fixtures/services/pop3.json";
import { SchemaError, schema, t, type Schema } from "../schema.ts";
import { pop3Templates, type Pop3Templates } from "../pop3/templates.ts";

const face = schema({
  pop3Face: t.text("id of the pop3 entry (fixtures/services/pop3.json) whose words and timing this face serves"),
});

let pop3Raw: Map<string, unknown> | undefined;
function rawPop3Entry(id: string): unknown {
  pop3Raw ??= new Map((table.entries as { id: string; templates: unknown }[]).map((e) => [e.id, e.templates]));
  return pop3Raw.get(id);
}

export type Pop3sTemplates = Pop3Templates & { pop3Face: string };

export const pop3sTemplates: Schema<Pop3sTemplates> = {
  shape: face.shape,
  parse(raw, path) {
    const { pop3Face } = face.parse(raw, path);
    const templates = rawPop3Entry(pop3Face);
    const at = path.endsWith(":") ? `${path} pop3Face` : `${path}.pop3Face`;
    if (templates === undefined) throw new SchemaError(at, `no pop3 entry "${pop3Face}" (see fixtures/services/pop3.json)`);
    return { ...pop3Templates.parse(templates, `fixtures/services/pop3.json: entry ${pop3Face}: templates`), pop3Face };
  },
  describe: () => face.describe(),
};
