import { expect } from "chai";
import { ethers } from "hardhat";
import {
  DEFAULT_MARKET_PARAMS,
  DEFAULT_REPAIR_PARAMS,
  DEFAULT_SETTLE_DELAY_EPOCHS,
} from "../../../actors-ts/chain/deployment";
import { deployAll } from "../../../scripts/lib/deploy";
import {
  checkProfileChain,
  deployProfile,
  PROFILE_NAMES,
  ProfileChainMismatchError,
  UnknownDeployProfileError,
} from "../../../scripts/lib/deploy-profiles";

const HOUR = 3600;
const DAY = 24 * HOUR;

describe("deployment profiles", () => {
  it("devnet is today's defaults on chain 31337, with no confirmations to wait", () => {
    const p = deployProfile("devnet");
    expect(p.chainId).to.equal(31337);
    expect(p.marketParams).to.deep.equal(DEFAULT_MARKET_PARAMS);
    expect(p.repairParams).to.deep.equal(DEFAULT_REPAIR_PARAMS);
    expect(p.settleDelayEpochs).to.equal(DEFAULT_SETTLE_DELAY_EPOCHS);
    expect(p.confirmations).to.equal(0);
  });

  it("filecoin-calibration proves once a day in 30 s epochs with a 30-minute window", () => {
    const p = deployProfile("filecoin-calibration");
    const seconds = (epochs: bigint): number => Number(epochs) * p.epochSeconds;
    expect([p.chainId, p.epochSeconds]).to.deep.equal([314159, 30]);
    expect(p.marketParams.provingPeriodEpochs).to.equal(2880n);
    expect(seconds(p.marketParams.provingPeriodEpochs)).to.equal(DAY);
    expect(seconds(p.marketParams.challengeWindowEpochs)).to.equal(HOUR / 2);
    expect(seconds(p.repairParams.placementWindowEpochs)).to.equal(4 * DAY);
    expect(seconds(p.repairParams.repairWindowEpochs)).to.equal(3 * DAY);
    expect(seconds(p.settleDelayEpochs)).to.equal(12 * HOUR);
    expect(seconds(p.marketParams.maxDealDurationEpochs)).to.equal(1278 * DAY);
    expect(p.repairParams.maxDealDurationEpochs).to.equal(p.marketParams.maxDealDurationEpochs);
    expect(p.marketParams.maxConsecutiveFaults).to.equal(3n);
    expect(p.confirmations).to.equal(5);
  });

  it("base-sepolia proves hourly in 2 s blocks with the widest window blockhash allows", () => {
    const p = deployProfile("base-sepolia");
    const seconds = (epochs: bigint): number => Number(epochs) * p.epochSeconds;
    expect([p.chainId, p.epochSeconds]).to.deep.equal([84532, 2]);
    expect(p.marketParams.provingPeriodEpochs).to.equal(1800n);
    expect(seconds(p.marketParams.provingPeriodEpochs)).to.equal(HOUR);
    expect(p.marketParams.challengeWindowEpochs).to.equal(240n);
    expect(seconds(p.repairParams.placementWindowEpochs)).to.equal(12 * HOUR);
    expect(seconds(p.repairParams.repairWindowEpochs)).to.equal(6 * HOUR);
    expect(seconds(p.settleDelayEpochs)).to.equal(12 * HOUR);
    expect(seconds(p.marketParams.maxDealDurationEpochs)).to.equal(1278 * DAY);
    expect(p.marketParams.maxConsecutiveFaults).to.equal(6n);
    expect(p.confirmations).to.equal(10);
  });

  it("keeps time-independent parameters (shares, counts, token amounts) the devnet's", () => {
    for (const name of PROFILE_NAMES) {
      const p = deployProfile(name);
      expect(p.marketParams.challengesPerProof, name).to.equal(DEFAULT_MARKET_PARAMS.challengesPerProof);
      expect(p.marketParams.faultReportBounty, name).to.equal(DEFAULT_MARKET_PARAMS.faultReportBounty);
      expect(p.repairParams.pledgePerByte, name).to.equal(DEFAULT_REPAIR_PARAMS.pledgePerByte);
      expect(p.repairParams.lossReportBountyBps, name).to.equal(DEFAULT_REPAIR_PARAMS.lossReportBountyBps);
    }
  });

  it("every profile deploys: the contracts accept its parameters and hold them", async () => {
    const [deployer] = await ethers.getSigners();
    for (const name of PROFILE_NAMES) {
      const p = deployProfile(name);
      const deployment = await deployAll(deployer, { profile: name, confirmations: 0 });
      expect(deployment.profile).to.equal(name);
      const market = await ethers.getContractAt("StorageMarket", deployment.contracts.StorageMarket);
      const repair = await ethers.getContractAt("RepairMarket", deployment.contracts.RepairMarket);
      const channels = await ethers.getContractAt("PaymentChannels", deployment.contracts.PaymentChannels);
      const onChain = await market.marketParams();
      expect(onChain.provingPeriodEpochs, name).to.equal(p.marketParams.provingPeriodEpochs);
      expect(onChain.challengeWindowEpochs, name).to.equal(p.marketParams.challengeWindowEpochs);
      expect(onChain.maxDealDurationEpochs, name).to.equal(p.marketParams.maxDealDurationEpochs);
      const repairParams = await repair.repairParams();
      expect(repairParams.placementWindowEpochs, name).to.equal(p.repairParams.placementWindowEpochs);
      expect(repairParams.repairWindowEpochs, name).to.equal(p.repairParams.repairWindowEpochs);
      expect(await channels.settleDelayEpochs(), name).to.equal(p.settleDelayEpochs);
    }
  });

  it("applies overrides on top of a profile and refuses unknown ones", async () => {
    const [deployer] = await ethers.getSigners();
    const deployment = await deployAll(deployer, {
      profile: "filecoin-calibration",
      marketParams: { challengeWindowEpochs: 120 },
      confirmations: 0,
    });
    expect(deployment.marketParams.provingPeriodEpochs).to.equal("2880");
    expect(deployment.marketParams.challengeWindowEpochs).to.equal("120");
    let failure: Error | undefined;
    await deployAll(deployer, {
      profile: "base-sepolia",
      repairParams: JSON.parse('{"repairWindow":1}') as Record<string, number>,
    }).catch((err: Error) => (failure = err));
    expect(failure?.message).to.match(/unknown repair parameter "repairWindow"/);
  });

  it("refuses a profile on another chain unless forced, naming the profile for that chain", () => {
    const calibration = deployProfile("filecoin-calibration");
    expect(() => checkProfileChain(calibration, 314159, false)).not.to.throw();
    expect(() => checkProfileChain(calibration, 31337, true)).not.to.throw();
    expect(() => checkProfileChain(deployProfile("devnet"), 84532, false))
      .to.throw(ProfileChainMismatchError)
      .with.property("shortMessage")
      .that.matches(/profile devnet is for chain 31337 .* chain 84532 is base-sepolia's: use --profile base-sepolia/);
    expect(() => checkProfileChain(calibration, 1, false)).to.throw(/no profile is tuned for chain 1/);
  });

  it("names the known profiles when asked for another", () => {
    expect(() => deployProfile("mainnet"))
      .to.throw(UnknownDeployProfileError)
      .with.property("details")
      .that.deep.equals({ profile: "mainnet", known: "devnet, filecoin-calibration, base-sepolia" });
  });
});
