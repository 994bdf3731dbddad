/**
 * Deployment parameter profiles: the market and repair parameters, the payment-channel settle
 * delay and the confirmations to wait, per kind of chain. Every parameter that is a time is a
 * count of epochs (block numbers), so it only means a duration on a chain whose block time the
 * profile assumes; each profile says which chain that is (its chain id) and what it assumed.
 * Token amounts are in base units of an 18-decimal token (`PaymentToken`'s decimals).
 *
 * `scripts/deploy.ts` (`DEPLOY_PROFILE=…`) and `npx hardhat rm deploy --profile …` start from a
 * profile; `MARKET_PARAMS`, `REPAIR_PARAMS` and `SETTLE_DELAY_EPOCHS` override it field by field.
 * Why these numbers: docs/decisions.md 35.
 */
import {
  DEFAULT_MARKET_PARAMS,
  DEFAULT_REPAIR_PARAMS,
  DEFAULT_SETTLE_DELAY_EPOCHS,
  type MarketParams,
  type RepairParams,
} from "../../actors-ts/chain/deployment";
import { RepairMarketError } from "../../actors-ts/core/errors";

/** The profiles' names, as `--profile` and `DEPLOY_PROFILE` spell them. */
export const PROFILE_NAMES = ["devnet", "filecoin-calibration", "base-sepolia"] as const;
/** One of {@link PROFILE_NAMES}. */
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** A set of deployment parameters tuned for one chain. */
export interface DeployProfile {
  name: ProfileName;
  /** The chain the profile is tuned for; deploying it on another chain needs `--force`. */
  chainId: number;
  /** Seconds per epoch (block) that every `…Epochs` value below assumes. */
  epochSeconds: number;
  /** One line: the chain and what the parameters amount to there. */
  summary: string;
  marketParams: MarketParams;
  repairParams: RepairParams;
  /** Payment-channel settle delay, epochs. */
  settleDelayEpochs: bigint;
  /**
   * Blocks to wait on top of the deploy block before its hash is recorded and the code hashes are
   * read, so the deployment file does not name a block a short reorg replaced.
   */
  confirmations: number;
}

/** Filecoin's longest sector commitment (FIP-0052), days: the cap on a deal's duration. */
const MAX_DEAL_DAYS = 1_278n;
const DAY_SECONDS = 86_400n;

/** The parameters that do not depend on the block time (shares, counts, token amounts). */
const SHARED_MARKET = {
  challengesPerProof: DEFAULT_MARKET_PARAMS.challengesPerProof,
  declaredFaultPenaltyBps: DEFAULT_MARKET_PARAMS.declaredFaultPenaltyBps,
  reporterBountyBps: DEFAULT_MARKET_PARAMS.reporterBountyBps,
  faultReportBounty: DEFAULT_MARKET_PARAMS.faultReportBounty,
} as const;
const SHARED_REPAIR = {
  pledgePerByte: DEFAULT_REPAIR_PARAMS.pledgePerByte,
  lostPieceSlashBps: DEFAULT_REPAIR_PARAMS.lostPieceSlashBps,
  dataLossSlashBps: DEFAULT_REPAIR_PARAMS.dataLossSlashBps,
  slashBountyBps: DEFAULT_REPAIR_PARAMS.slashBountyBps,
  lossReportBountyBps: DEFAULT_REPAIR_PARAMS.lossReportBountyBps,
} as const;

/**
 * A local Hardhat node (chain 31337) mining a block a second (`npm run devnet`, the demo; tests
 * pace their own chains): today's defaults, {@link DEFAULT_MARKET_PARAMS} and
 * {@link DEFAULT_REPAIR_PARAMS}, so faults show within a minute and repairs within a few. Blocks
 * cannot be reorganised, so nothing waits for confirmations.
 */
const DEVNET: DeployProfile = {
  name: "devnet",
  chainId: 31_337,
  epochSeconds: 1,
  summary: "local Hardhat node, 1 s blocks: 30 s proving periods, repairs within 2 min",
  marketParams: DEFAULT_MARKET_PARAMS,
  repairParams: DEFAULT_REPAIR_PARAMS,
  settleDelayEpochs: DEFAULT_SETTLE_DELAY_EPOCHS,
  confirmations: 0,
};

/**
 * Filecoin Calibration (chain 314159), 30 s epochs; `block.number` is the epoch, null rounds
 * included, so epoch counts are wall time.
 * - Proving period 2,880 epochs = one day, FilOz PDP's period on Filecoin, with its 60-epoch
 *   (30 min) challenge window: time to land a proof through a public RPC, and well under the
 *   240-epoch cap that keeps the challenge epoch's `blockhash` readable. 5 challenges per proof
 *   as PDP; three missed days in a row fail a data set.
 * - Placement 11,520 epochs (4 days): the miner's storage deals start two periods after they are
 *   proposed and must be proven by then (2 days), plus two periods for refusals and re-placement.
 *   Repair 8,640 epochs (3 days): a period to rebuild and re-place, one for the new deal's first
 *   proof, one to spare; extensions must come a repair window before the end.
 * - Payment-channel settle delay 1,440 epochs (12 h), Filecoin's payment channel actor's.
 * - Deals up to 1,278 days (FIP-0052), 3,680,640 epochs.
 * - 5 confirmations (2.5 min) before the deploy block's hash is recorded.
 * Not checked here (no network): what FEVM's BLOCKHASH gives for a challenge epoch that was a null
 * round. Zero would lose nothing (the draws also hash the data set and the period, and nobody
 * knows before that epoch that it will be null); a revert would make that period unprovable.
 */
const FILECOIN_CALIBRATION: DeployProfile = {
  name: "filecoin-calibration",
  chainId: 314_159,
  epochSeconds: 30,
  summary: "Filecoin Calibration, 30 s epochs: one-day proving periods, repairs within 3 days",
  marketParams: {
    ...SHARED_MARKET,
    provingPeriodEpochs: 2_880n,
    challengeWindowEpochs: 60n,
    maxConsecutiveFaults: 3n,
    maxDealDurationEpochs: (MAX_DEAL_DAYS * DAY_SECONDS) / 30n,
  },
  repairParams: {
    ...SHARED_REPAIR,
    placementWindowEpochs: 11_520n,
    repairWindowEpochs: 8_640n,
    maxDealDurationEpochs: (MAX_DEAL_DAYS * DAY_SECONDS) / 30n,
  },
  settleDelayEpochs: 1_440n,
  confirmations: 5,
};

/**
 * Base Sepolia (chain 84532), an OP Stack L2 with 2 s blocks.
 * - Proving period 1,800 epochs = one hour: a proof costs cents of L2 gas, so hourly proofs are
 *   affordable, and a newcomer sees a fault, its repair and the repaired piece proven within an
 *   afternoon (a day-long period would take days). Challenge window 240 epochs (8 min), the most
 *   the contract accepts: 256 blocks of `blockhash` history are only 8.5 minutes at 2 s. Six missed
 *   hours in a row fail a data set: an operator has half a working day, not three hours, to
 *   restart a crashed daemon before its collateral is slashed.
 * - Placement 21,600 epochs (12 h) and repair 10,800 epochs (6 h): uploading a large piece takes
 *   as long as on any chain, so these are set in hours of transfer plus the two-period start delay
 *   of a new storage deal, not scaled with the period.
 * - Settle delay 21,600 epochs (12 h), as on Filecoin. Deals up to 1,278 days, 55,209,600 epochs.
 * - 10 confirmations (20 s) before the deploy block's hash is recorded.
 */
const BASE_SEPOLIA: DeployProfile = {
  name: "base-sepolia",
  chainId: 84_532,
  epochSeconds: 2,
  summary: "Base Sepolia, 2 s blocks: one-hour proving periods, repairs within 6 hours",
  marketParams: {
    ...SHARED_MARKET,
    provingPeriodEpochs: 1_800n,
    challengeWindowEpochs: 240n,
    maxConsecutiveFaults: 6n,
    maxDealDurationEpochs: (MAX_DEAL_DAYS * DAY_SECONDS) / 2n,
  },
  repairParams: {
    ...SHARED_REPAIR,
    placementWindowEpochs: 21_600n,
    repairWindowEpochs: 10_800n,
    maxDealDurationEpochs: (MAX_DEAL_DAYS * DAY_SECONDS) / 2n,
  },
  settleDelayEpochs: 21_600n,
  confirmations: 10,
};

/** Every profile by name. */
export const DEPLOY_PROFILES: Readonly<Record<ProfileName, DeployProfile>> = {
  devnet: DEVNET,
  "filecoin-calibration": FILECOIN_CALIBRATION,
  "base-sepolia": BASE_SEPOLIA,
};

/** A `--profile` / `DEPLOY_PROFILE` that names no profile. */
export class UnknownDeployProfileError extends RepairMarketError {
  override name = "UnknownDeployProfileError" as const;
}

/** The profile is tuned for another chain than the one the RPC serves, and `--force` was not given. */
export class ProfileChainMismatchError extends RepairMarketError {
  override name = "ProfileChainMismatchError" as const;
}

/**
 * The profile named `name`.
 *
 * @example deployProfile("filecoin-calibration").marketParams.provingPeriodEpochs // 2880n
 * @throws UnknownDeployProfileError when no profile has that name.
 */
export function deployProfile(name: string): DeployProfile {
  const profile = (DEPLOY_PROFILES as Record<string, DeployProfile | undefined>)[name];
  if (!profile) {
    throw new UnknownDeployProfileError(`unknown deployment profile "${name}"`, {
      details: { profile: name, known: PROFILE_NAMES.join(", ") },
    });
  }
  return profile;
}

/** The profile tuned for `chainId`, if any. */
export function profileForChain(chainId: number): DeployProfile | undefined {
  return Object.values(DEPLOY_PROFILES).find((p) => p.chainId === chainId);
}

/**
 * Refuses to deploy `profile` on a chain it is not tuned for, unless `force`: its epoch counts
 * would mean other durations there (the devnet's 30-epoch proving period is a minute on Base
 * Sepolia, faulting every provider a slow RPC delays), and a forgotten `--profile` would
 * otherwise put devnet parameters, immutable, on a testnet.
 *
 * @param chainId The chain id the RPC reports.
 * @throws ProfileChainMismatchError naming the profile, both chain ids and the profile for this chain.
 */
export function checkProfileChain(profile: DeployProfile, chainId: number, force: boolean): void {
  if (profile.chainId === chainId || force) return;
  const suggested = profileForChain(chainId);
  const hint = suggested
    ? `chain ${chainId} is ${suggested.name}'s: use --profile ${suggested.name} (DEPLOY_PROFILE=${suggested.name}), or --force (DEPLOY_FORCE=1) to rehearse ${profile.name} here`
    : `no profile is tuned for chain ${chainId}: pick the closest and pass --force (DEPLOY_FORCE=1)`;
  throw new ProfileChainMismatchError(
    `profile ${profile.name} is for chain ${profile.chainId} (${profile.epochSeconds} s epochs) but the RPC serves chain ${chainId}; ${hint}`,
    { details: { profile: profile.name, profileChainId: profile.chainId, rpcChainId: chainId } },
  );
}
