// The imaps templates: the daemon on 993 is the one on 143 with TLS from the first byte (one dovecot.conf,
// one imapd), so an entry names that imap entry instead of repeating its templates. The TLS side is the
// entry's `tls` key; the session starts secure (capabilitySecure, no STARTTLS).
import table from "../../../fixtures/services/imap.json";
import { SchemaError, schema, t, type Schema } from "../schema.ts";
import { imapTemplates, type ImapTemplates } from "../imap/templates.ts";

const face = schema({
  imapFace: t.text("id of the imap entry (fixtures/services/imap.json) whose words and timing this face serves"),
});

let imapRaw: Map<string, unknown> | undefined;
function rawImapEntry(id: string): unknown {
  imapRaw ??= new Map((table.entries as { id: string; templates: unknown }[]).map((e) => [e.id, e.templates]));
  return imapRaw.get(id);
}

export type ImapsTemplates = ImapTemplates & { imapFace: string };

export const imapsTemplates: Schema<ImapsTemplates> = {
  shape: face.shape,
  parse(raw, path) {
    const { imapFace } = face.parse(raw, path);
    const templates = rawImapEntry(imapFace);
    const at = path.endsWith(":") ? `${path} imapFace` : `${path}.imapFace`;
    if (templates === undefined) throw new SchemaError(at, `no imap entry "${imapFace}" (see fixtures/services/imap.json)`);
    return { ...imapTemplates.parse(templates, `fixtures/services/imap.json: entry ${imapFace}: templates`), imapFace };
  },
  describe: () => face.describe(),
};
