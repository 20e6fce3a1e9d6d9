// The shipped personas: fixtures/personas/*.yaml, bundled into the executable as text and parsed with the
// same parser as a user's config (so a persona file is also an example of one).
import centosDb from "../../fixtures/personas/centos-db.yaml" with { type: "text" };
import debian12 from "../../fixtures/personas/debian-12.yaml" with { type: "text" };
import devDocker from "../../fixtures/personas/dev-docker.yaml" with { type: "text" };
import debianLamp from "../../fixtures/personas/debian-lamp.yaml" with { type: "text" };
import freebsdFiles from "../../fixtures/personas/freebsd-files.yaml" with { type: "text" };
import mailServer from "../../fixtures/personas/mail-server.yaml" with { type: "text" };
import iotCamera from "../../fixtures/personas/iot-camera.yaml" with { type: "text" };
import macosServer from "../../fixtures/personas/macos-server.yaml" with { type: "text" };
import officeNas from "../../fixtures/personas/office-nas.yaml" with { type: "text" };
import seedbox from "../../fixtures/personas/seedbox.yaml" with { type: "text" };
import squidGateway from "../../fixtures/personas/squid-gateway.yaml" with { type: "text" };
import ubuntuWeb from "../../fixtures/personas/ubuntu-web.yaml" with { type: "text" };
import voipPbx from "../../fixtures/personas/voip-pbx.yaml" with { type: "text" };
import windowsServer from "../../fixtures/personas/windows-server.yaml" with { type: "text" };
import { hostOsFamily, machineRelease } from "./machine.ts";
import { parseConfig, type HostConfig } from "./config.ts";
import { parseOsName } from "./releases.ts";

const FILES: Record<string, string> = {
  "debian-lamp": debianLamp,
  "ubuntu-web": ubuntuWeb,
  "centos-db": centosDb,
  "freebsd-files": freebsdFiles,
  "macos-server": macosServer,
  "windows-server": windowsServer,
  seedbox,
  "debian-12": debian12,
  "voip-pbx": voipPbx,
  "office-nas": officeNas,
  "dev-docker": devDocker,
  "squid-gateway": squidGateway,
  "mail-server": mailServer,
  "iot-camera": iotCamera,
};

export const PERSONA_NAMES: readonly string[] = Object.keys(FILES);

let parsed: Map<string, HostConfig> | undefined;

/** Every shipped persona, parsed (a broken persona file is a build defect: it throws with its line). */
export function personas(): Map<string, HostConfig> {
  parsed ??= new Map(
    Object.entries(FILES).map(([name, text]) => {
      const c = parseConfig(text, `fixtures/personas/${name}.yaml`, []);
      if (c.name !== name) throw new Error(`fixtures/personas/${name}.yaml: name must be "${name}"`);
      return [name, c];
    }),
  );
  return parsed;
}

export function persona(name: string): HostConfig | undefined {
  return personas().get(name);
}

/** The persona that fits this machine: the one of its release, else the first of its OS family. */
export function defaultPersona(): HostConfig {
  const release = machineRelease();
  for (const c of personas().values()) if (release !== undefined && c.os === release) return c;
  const family = hostOsFamily();
  for (const c of personas().values()) if (c.os && parseOsName(c.os)?.family === family) return c;
  return personas().get("debian-lamp")!;
}
