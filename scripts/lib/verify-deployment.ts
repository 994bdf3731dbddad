/**
 * Checks a deployment file against the chain (`npx hardhat rm verify-deployment`): the deploy
 * block still has the recorded hash, and every contract has code at its address that hashes to
 * the recorded code hash, matches its artifact (immutables masked, see artifact-code.ts) and, for
 * the markets, is wired to the file's token and market and holds the file's parameters (the
 * immutables the masked comparison skipped, read back through the getters).
 *
 * Imports the generated ABIs: tasks load it inside their action.
 */
import type { Artifacts } from "hardhat/types";
import type { Address, Chain, Hex, PublicClient, Transport } from "viem";
import { CONTRACT_NAMES, type ContractName, type Deployment } from "../../actors-ts/chain/deployment";
import { paymentChannelsAbi, repairMarketAbi, storageMarketAbi } from "../../actors-ts/chain/generated/abis";
import { ARTIFACT_OF, codeHash, compareWithArtifact, readArtifactCode } from "./artifact-code";

/** One line of the report: a contract, or the deploy block. */
export interface VerifyRow {
  subject: ContractName | "deployBlock";
  /** The contract's address, or the deploy block's number. */
  at: string;
  ok: boolean;
  /** What matched, or every reason it does not. */
  detail: string;
}

type Client = PublicClient<Transport, Chain | undefined>;
type ArtifactReader = Pick<Artifacts, "readArtifact" | "getBuildInfo">;

/**
 * Verifies `deployment` on the chain `client` reads.
 *
 * @returns The deploy block's row, then one row per contract; every row is `ok` when it matches.
 */
export async function verifyDeployment(
  client: Client,
  deployment: Deployment,
  artifacts: ArtifactReader,
): Promise<VerifyRow[]> {
  const rows = [await checkDeployBlock(client, deployment)];
  for (const name of CONTRACT_NAMES) rows.push(await checkContract(client, deployment, name, artifacts));
  return rows;
}

function message(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string };
  return (e.shortMessage ?? e.message ?? String(err)).split("\n")[0];
}

async function checkDeployBlock(client: Client, deployment: Deployment): Promise<VerifyRow> {
  const at = String(deployment.deployBlock);
  const recorded = deployment.deployBlockHash;
  if (recorded === undefined) {
    return { subject: "deployBlock", at, ok: true, detail: "no hash recorded (the file predates it): not checked" };
  }
  let hash: Hex | null;
  try {
    hash = (await client.getBlock({ blockNumber: BigInt(deployment.deployBlock) })).hash;
  } catch (err) {
    const head = await client.getBlockNumber().catch(() => undefined);
    return {
      subject: "deployBlock",
      at,
      ok: false,
      detail: `the chain has no block ${at} (head ${head ?? "?"}): it was reset since the deployment (${message(err)})`,
    };
  }
  if (hash?.toLowerCase() === recorded.toLowerCase()) return { subject: "deployBlock", at, ok: true, detail: hash };
  return {
    subject: "deployBlock",
    at,
    ok: false,
    detail: `block ${at} is ${hash ?? "pending"} on chain but ${recorded} in the file: the chain was reset or reorganised since the deployment`,
  };
}

async function checkContract(
  client: Client,
  deployment: Deployment,
  name: ContractName,
  artifacts: ArtifactReader,
): Promise<VerifyRow> {
  const at = deployment.contracts[name];
  const code = (await client.getCode({ address: at as Address })) ?? "0x";
  if (code === "0x") {
    return {
      subject: name,
      at,
      ok: false,
      detail: "no code at this address: the chain was reset or the file is for another chain",
    };
  }
  const recorded = deployment.code?.[name];
  const problems: string[] = [];
  const notes: string[] = [];
  if (recorded && codeHash(code) !== recorded.codeHash.toLowerCase()) {
    problems.push(`code hash ${codeHash(code)} is not the recorded ${recorded.codeHash}`);
  }
  // A file without code records names our artifacts; a recorded entry without one is an existing token.
  const artifact = recorded ? recorded.artifact : ARTIFACT_OF[name];
  if (artifact === undefined) {
    notes.push("an existing token: checked by its recorded code hash");
  } else {
    const comparison = compareWithArtifact(code, await readArtifactCode(artifacts, artifact));
    if (comparison.match === "none") problems.push(comparison.detail);
    else notes.push(`matches ${artifact}`, ...(comparison.match === "metadata" ? [comparison.detail] : []));
  }
  if (problems.length === 0) problems.push(...(await checkWiring(client, deployment, name)));
  return { subject: name, at, ok: problems.length === 0, detail: (problems.length ? problems : notes).join("; ") };
}

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Differences between parameters read from the chain and the file's decimal strings. */
function paramDiffs(what: string, onChain: Record<string, unknown>, inFile: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(onChain), ...Object.keys(inFile)]);
  return [...keys]
    .filter((k) => String(onChain[k]) !== inFile[k])
    .map((k) => `${what}.${k} is ${String(onChain[k])} on chain, ${inFile[k] ?? "absent"} in the file`);
}

/** The markets' token, market and parameters as the file says (the immutables masked above). */
async function checkWiring(client: Client, deployment: Deployment, name: ContractName): Promise<string[]> {
  const address = deployment.contracts[name] as Address;
  const token = deployment.contracts.PaymentToken;
  const wrongToken = (actual: string): string[] =>
    sameAddress(actual, token) ? [] : [`token() is ${actual}, the file's PaymentToken is ${token}`];
  try {
    if (name === "StorageMarket") {
      const read = { address, abi: storageMarketAbi } as const;
      const [actualToken, params] = await Promise.all([
        client.readContract({ ...read, functionName: "token" }),
        client.readContract({ ...read, functionName: "marketParams" }),
      ]);
      return [...wrongToken(actualToken), ...paramDiffs("marketParams", params, deployment.marketParams)];
    }
    if (name === "RepairMarket") {
      const read = { address, abi: repairMarketAbi } as const;
      const [actualToken, market, params] = await Promise.all([
        client.readContract({ ...read, functionName: "token" }),
        client.readContract({ ...read, functionName: "storageMarket" }),
        client.readContract({ ...read, functionName: "repairParams" }),
      ]);
      const marketProblem = sameAddress(market, deployment.contracts.StorageMarket)
        ? []
        : [`storageMarket() is ${market}, the file's StorageMarket is ${deployment.contracts.StorageMarket}`];
      return [
        ...wrongToken(actualToken),
        ...marketProblem,
        ...paramDiffs("repairParams", params, deployment.repairParams),
      ];
    }
    if (name === "PaymentChannels") {
      const read = { address, abi: paymentChannelsAbi } as const;
      const [actualToken, delay] = await Promise.all([
        client.readContract({ ...read, functionName: "token" }),
        client.readContract({ ...read, functionName: "settleDelayEpochs" }),
      ]);
      const delayProblem =
        String(delay) === deployment.settleDelayEpochs
          ? []
          : [`settleDelayEpochs() is ${delay} on chain, ${deployment.settleDelayEpochs} in the file`];
      return [...wrongToken(actualToken), ...delayProblem];
    }
    return [];
  } catch (err) {
    return [`reading its token and parameters failed: ${message(err)}`];
  }
}

/** One line per row: `ok`/`MISMATCH`, the subject, where, and the detail. */
export function formatVerifyRows(rows: readonly VerifyRow[]): string[] {
  return rows.map((r) => `${(r.ok ? "ok" : "MISMATCH").padEnd(9)}${r.subject.padEnd(17)}${r.at.padEnd(43)}${r.detail}`);
}
