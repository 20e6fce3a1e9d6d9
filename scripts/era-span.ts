// How many years apart are the faces one host shows? Draws the default host (a Debian-family machine,
// release from the seed) for many seeds and measures the spread of release years across its services.
//   bun scripts/era-span.ts [--seeds 20000] [--family debian] [--services ftp,http,mysql,samba]
import { parseArgs } from "node:util";
import { chooseEntry } from "../src/catalog/choose.ts";
import { serviceEntries } from "../src/catalog/index.ts";
import { drawRelease, findRelease } from "../src/host/releases.ts";
import { SERVICES } from "../src/services/index.ts";
import type { OsFamily } from "../src/types.ts";

const { values } = parseArgs({
  options: { seeds: { type: "string", default: "20000" }, family: { type: "string", default: "debian" }, services: { type: "string", default: SERVICES.join(",") } },
});
const services = values.services!.split(",");
const n = Number(values.seeds);
const family = values.family as OsFamily;
const spans: number[] = [];
let offRelease = 0;
let faces = 0;
for (let i = 0; i < n; i++) {
  const seed = `era-${i}`;
  const release = drawRelease(seed, family);
  const host = { family, release: release.id };
  const years = services.map((s) => {
    const e = chooseEntry(serviceEntries(s), seed, host);
    faces++;
    if (!e.releases.includes(release.id)) offRelease++;
    // The face's own era: the year of its release nearest the host's.
    const ys = e.releases.map((r) => findRelease(r)!.year);
    return ys.reduce((best, y) => (Math.abs(y - release.year) < Math.abs(best - release.year) ? y : best));
  });
  spans.push(Math.max(...years) - Math.min(...years));
}
const share = (f: (s: number) => boolean) => ((spans.filter(f).length / n) * 100).toFixed(1);
console.log(`${n} ${family} hosts, services ${services.join(", ")}`);
console.log(`span of release years: median ${spans.sort((a, b) => a - b)[Math.floor(n / 2)]}, ≤2 years ${share((s) => s <= 2)}%, ≥6 years ${share((s) => s >= 6)}%`);
console.log(`faces not shipped in the host's own release (nearest release instead): ${((offRelease / faces) * 100).toFixed(1)}%`);
