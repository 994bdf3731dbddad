import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import semver from "semver";

// `engines.node` in package.json promises a Node version range; every package the lockfile
// installs must run on the lowest version of that range (npm only warns when one does not).

const ROOT = join(__dirname, "..");

describe("package.json engines", () => {
  it("names a Node range that every locked package supports at its lowest version", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
    };
    const lowest = semver.minVersion(pkg.engines.node);
    expect(lowest, `engines.node ${pkg.engines.node}`).to.not.equal(null);
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== "")
      .flatMap(([path, entry]) => {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return range && !semver.satisfies(lowest as semver.SemVer, range) ? [`${path}@${entry.version}: ${range}`] : [];
      });
    expect(refusing, `packages that refuse Node ${lowest?.version}`).to.deep.equal([]);
    expect(semver.satisfies(process.version, pkg.engines.node), `running ${process.version}`).to.equal(true);
  });
});
