import { expect } from "chai";
import hre from "hardhat";
import { keccak256, toHex } from "viem";
import {
  parseTypeString,
  projectBuildInfos,
  readSolidityTypes,
  renderTypesModule,
} from "../../../scripts/lib/solidity-types";
import { publishResultNames, storageDealProposalTypes, voucherTypes } from "../../../actors-ts/chain/generated/types";

/** EIP-712 `encodeType` of `primary` in `types` (referenced structs sorted by name, after it). */
function encodeType(types: Record<string, readonly { name: string; type: string }[]>, primary: string): string {
  const deps = Object.keys(types)
    .filter((t) => t !== primary)
    .sort();
  return [primary, ...deps].map((t) => `${t}(${types[t].map((f) => `${f.type} ${f.name}`).join(",")})`).join("");
}

describe("scripts/lib/solidity-types: what the agents share with the contracts comes from the compiler", () => {
  it("parses EIP-712 type strings, nested ones included, and refuses anything else", () => {
    expect(parseTypeString("A(uint256 x,B b)B(bytes32 y)")).to.deep.equal({
      A: [
        { name: "x", type: "uint256" },
        { name: "b", type: "B" },
      ],
      B: [{ name: "y", type: "bytes32" }],
    });
    expect(parseTypeString("Empty()")).to.deep.equal({ Empty: [] });
    for (const bad of ["", "A(uint256)", "A(uint256 x y)", "A(uint256 x) B(bytes32 y)", "A(uint256 x"]) {
      expect(() => parseTypeString(bad), bad).to.throw();
    }
  });

  it("generates field lists whose encodeType hashes to the contracts' own type hashes", async () => {
    // PaymentChannels exposes its type hash; DealProposals' is internal, so for it the test reads
    // the type string the compiler hashed.
    const channels = await hre.ethers.deployContract("PaymentChannels", [
      "0x0000000000000000000000000000000000000001",
      10n,
    ]);
    const types = readSolidityTypes(await projectBuildInfos(hre.artifacts));
    const proposal = types.typeHashes.find((t) => t.constant === "DealProposals.TYPEHASH");
    expect(proposal?.typeString).to.equal(encodeType(storageDealProposalTypes, "StorageDealProposal"));
    const voucher = types.typeHashes.find((t) => t.constant === "PaymentChannels.VOUCHER_TYPEHASH");
    expect(voucher?.typeString).to.equal(encodeType(voucherTypes, "Voucher"));
    expect(await channels.VOUCHER_TYPEHASH()).to.equal(keccak256(toHex(encodeType(voucherTypes, "Voucher"))));
    expect(publishResultNames[0]).to.equal("None");
    expect(publishResultNames).to.include("InvalidPayloadSize");
  });

  it("refuses to generate when a struct and the type string hashed for it disagree", () => {
    const mismatch = {
      enums: [],
      typeHashes: [
        {
          constant: "L.TYPEHASH",
          source: "contracts/L.sol",
          typeString: "S(uint256 a,uint64 b)",
          primaryType: "S",
          types: parseTypeString("S(uint256 a,uint64 b)"),
        },
      ],
      structs: new Map([
        [
          "S",
          {
            name: "S",
            source: "contracts/S.sol",
            doc: "",
            members: [
              { name: "a", type: "uint256", doc: "" },
              { name: "b", type: "uint128", doc: "" },
            ],
          },
        ],
      ]),
    };
    expect(() => renderTypesModule(mismatch)).to.throw(/L\.TYPEHASH hashes S\(uint256 a,uint64 b\) but the struct/);
  });
});
