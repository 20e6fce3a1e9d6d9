// Replaced at build time (scripts/build.ts defines both); running from source reports the package's
// version marked -dev, and no commit (the tree may differ from any commit).
import pkg from "../package.json";

declare const MICETRAP_VERSION: string | undefined;
declare const MICETRAP_COMMIT: string | undefined;

export const VERSION: string = typeof MICETRAP_VERSION === "string" ? MICETRAP_VERSION : `${pkg.version}-dev`;
/** `git rev-parse --short=12 HEAD` of the tree built, with `-dirty` when tracked files had changes; "" from source. */
export const COMMIT: string = typeof MICETRAP_COMMIT === "string" ? MICETRAP_COMMIT : "";

/** What `micetrap --version` prints: "micetrap 0.1.0 (commit 0123456789ab)". */
export function versionLine(): string {
  return `micetrap ${VERSION} (${COMMIT ? `commit ${COMMIT}` : "from source"})`;
}
