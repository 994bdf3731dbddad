/**
 * Runtime code as the compiler wrote it, and comparing it with code read from a chain.
 *
 * The artifact's `deployedBytecode` has zeros where the contract's immutables go (the
 * constructor writes them into the code it returns); the build info's `immutableReferences` say
 * where. Code on chain is compared with the artifact after zeroing those ranges in both, so
 * constructor arguments do not count as a difference (`verify-deployment` checks them through
 * the contracts' getters instead). The compiler ends the code with CBOR metadata whose hash covers
 * the sources byte for byte, comments included; when only that tail differs the executable code is
 * the same, and the comparison says so.
 */
import type { Artifacts } from "hardhat/types";
import { keccak256, type Hex } from "viem";
import type { ContractName } from "../../actors-ts/chain/deployment";
import { InvalidArgumentError } from "../../actors-ts/core/errors";

/** The artifact each contract of a deployment is built from (fully qualified names). */
export const ARTIFACT_OF: Readonly<Record<ContractName, string>> = {
  PaymentToken: "contracts/token/PaymentToken.sol:PaymentToken",
  ProviderRegistry: "contracts/registry/ProviderRegistry.sol:ProviderRegistry",
  StorageMarket: "contracts/market/StorageMarket.sol:StorageMarket",
  RepairMarket: "contracts/repair/RepairMarket.sol:RepairMarket",
  PaymentChannels: "contracts/retrieval/PaymentChannels.sol:PaymentChannels",
};

/** A byte range of runtime code (offsets in bytes). */
export interface CodeRange {
  start: number;
  length: number;
}

/** What the compiler says a contract's runtime code is. */
export interface ArtifactCode {
  /** Fully qualified artifact name. */
  artifact: string;
  /** Id of the solc build it came from. */
  buildInfo: string;
  /** Runtime code, immutables zeroed. */
  deployedBytecode: Hex;
  /** Where the immutables sit in the runtime code. */
  immutables: CodeRange[];
}

/** Reads {@link ArtifactCode} for `artifact` from Hardhat's artifacts and build info. */
export async function readArtifactCode(
  artifacts: Pick<Artifacts, "readArtifact" | "getBuildInfo">,
  artifact: string,
): Promise<ArtifactCode> {
  const compiled = await artifacts.readArtifact(artifact);
  const build = await artifacts.getBuildInfo(artifact);
  if (!build) {
    throw new InvalidArgumentError(`no build info for ${artifact}: run npx hardhat compile`, {
      details: { artifact },
    });
  }
  const output = build.output.contracts[compiled.sourceName]?.[compiled.contractName];
  const references = output?.evm.deployedBytecode.immutableReferences ?? {};
  return {
    artifact,
    buildInfo: build.id,
    deployedBytecode: compiled.deployedBytecode as Hex,
    immutables: Object.values(references).flat(),
  };
}

function toBytes(code: Hex): Buffer {
  return Buffer.from(code.slice(2), "hex");
}

/** `code` with every range in `ranges` set to zero bytes (ranges past the end are clipped). */
export function maskImmutables(code: Hex, ranges: readonly CodeRange[]): Hex {
  const bytes = toBytes(code);
  for (const { start, length } of ranges) bytes.fill(0, start, Math.min(start + length, bytes.length));
  return `0x${bytes.toString("hex")}`;
}

/**
 * `code` without its CBOR metadata: solc ends runtime code with the metadata and then its length
 * as two big-endian bytes. Code whose last two bytes do not describe such a tail is returned whole.
 */
export function stripMetadata(code: Hex): Hex {
  const bytes = toBytes(code);
  if (bytes.length < 2) return code;
  const length = bytes.readUInt16BE(bytes.length - 2);
  // The CBOR map of solc's metadata starts with a map header (0xa1…0xa7).
  const start = bytes.length - 2 - length;
  if (length === 0 || start < 0 || bytes[start] < 0xa1 || bytes[start] > 0xa7) return code;
  return `0x${bytes.subarray(0, start).toString("hex")}`;
}

/** How code on chain compares with an artifact. */
export type CodeComparison =
  { match: "exact" } | { match: "metadata"; detail: string } | { match: "none"; detail: string };

/**
 * Compares runtime code read from a chain with the artifact's, immutables masked in both.
 *
 * @returns `exact`, `metadata` (only the CBOR metadata differs: same executable code, sources
 *   edited since) or `none` with the length or first differing byte.
 */
export function compareWithArtifact(onChain: Hex, compiled: ArtifactCode): CodeComparison {
  const chain = maskImmutables(onChain.toLowerCase() as Hex, compiled.immutables);
  const artifact = maskImmutables(compiled.deployedBytecode.toLowerCase() as Hex, compiled.immutables);
  if (chain === artifact) return { match: "exact" };
  const [a, b] = [stripMetadata(chain), stripMetadata(artifact)];
  if (a === b) {
    return {
      match: "metadata",
      detail: "only the metadata differs: the sources were edited since (same executable code)",
    };
  }
  if (a.length !== b.length) {
    return {
      match: "none",
      detail: `code is ${(a.length - 2) / 2} bytes, ${compiled.artifact} is ${(b.length - 2) / 2}`,
    };
  }
  let i = 2;
  while (a[i] === b[i]) i++;
  return { match: "none", detail: `code differs from ${compiled.artifact} at byte ${Math.floor((i - 2) / 2)}` };
}

/** keccak256 of runtime code, as recorded in a deployment file's `code.<name>.codeHash`. */
export function codeHash(code: Hex): Hex {
  return keccak256(code);
}
