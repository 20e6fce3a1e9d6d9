// Replaced at build time (bun build --define); running from source reports the package version.
declare const MICETRAP_VERSION: string | undefined;
declare const MICETRAP_COMMIT: string | undefined;

export const VERSION: string = typeof MICETRAP_VERSION === "string" ? MICETRAP_VERSION : "0.1.0-dev";
export const COMMIT: string = typeof MICETRAP_COMMIT === "string" ? MICETRAP_COMMIT : "source";
