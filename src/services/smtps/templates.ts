// The smtps templates: the MTA on 465 is the one on 25 and 587 with TLS from the first byte, so an entry
// names that smtp entry instead of repeating its words. The TLS side is the entry's `tls` key.
import table from "../../../fixtures/services/smtp.json";
import { SchemaError, schema, t, type Schema } from "../schema.ts";
import { smtpTemplates, type SmtpTemplates } from "../smtp/templates.ts";

const face = schema({
  smtpFace: t.text("id of the smtp entry (fixtures/services/smtp.json) whose words and timing this face serves"),
});

let smtpRaw: Map<string, unknown> | undefined;
function rawSmtpEntry(id: string): unknown {
  smtpRaw ??= new Map((table.entries as { id: string; templates: unknown }[]).map((e) => [e.id, e.templates]));
  return smtpRaw.get(id);
}

export type SmtpsTemplates = SmtpTemplates & { smtpFace: string };

/** Parses `{ smtpFace }` into the named smtp entry's templates, which the smtp session then runs. */
export const smtpsTemplates: Schema<SmtpsTemplates> = {
  shape: face.shape,
  parse(raw, path) {
    const { smtpFace } = face.parse(raw, path);
    const templates = rawSmtpEntry(smtpFace);
    const at = path.endsWith(":") ? `${path} smtpFace` : `${path}.smtpFace`;
    if (templates === undefined) throw new SchemaError(at, `no smtp entry "${smtpFace}" (see fixtures/services/smtp.json)`);
    return { ...smtpTemplates.parse(templates, `fixtures/services/smtp.json: entry ${smtpFace}: templates`), smtpFace };
  },
  describe: () => face.describe(),
};
