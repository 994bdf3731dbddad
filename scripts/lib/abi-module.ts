import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Artifacts } from "hardhat/types";
import { projectBuildInfos, readSolidityTypes, renderTypesModule } from "./solidity-types";

/** Contracts whose ABIs the agents use, and the exported constant names. */
const CONTRACTS: [contract: string, exportName: string][] = [
  ["StorageMarket", "storageMarketAbi"],
  ["ProviderRegistry", "providerRegistryAbi"],
  ["RepairMarket", "repairMarketAbi"],
  ["PaymentChannels", "paymentChannelsAbi"],
  ["PaymentToken", "paymentTokenAbi"],
];

/**
 * Writes `actors-ts/chain/generated/abis.ts` with one `as const` ABI per contract, so viem infers
 * every function's argument and return types, and `generated/types.ts` with the enums, EIP-712
 * types and signed structs read from the compiler's AST. Rewrites a file only when it changes.
 */
export async function writeAbiModule(artifacts: Artifacts, root: string): Promise<void> {
  const lines = [
    "// Generated from the Hardhat artifacts by scripts/lib/abi-module.ts on every compile. Do not edit.",
    "",
  ];
  for (const [contract, exportName] of CONTRACTS) {
    const artifact = await artifacts.readArtifact(contract);
    lines.push(`export const ${exportName} = ${JSON.stringify(artifact.abi, null, 2)} as const;`, "");
  }
  const dir = join(root, "actors-ts", "chain", "generated");
  writeIfChanged(dir, "abis.ts", lines.join("\n"));
  writeIfChanged(dir, "types.ts", renderTypesModule(readSolidityTypes(await projectBuildInfos(artifacts))));
}

/** Writes `dir/name` only when its content changes (so tsc and mocha caches stay warm). */
function writeIfChanged(dir: string, name: string, content: string): void {
  const path = join(dir, name);
  let previous = "";
  try {
    previous = readFileSync(path, "utf8");
  } catch {
    // first run
  }
  if (previous === content) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, content);
}
