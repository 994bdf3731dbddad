// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @notice Test-only hostile ERC-1271 wallet: `isValidSignature` burns every unit of gas it is
/// given, the way a client could try to sink a provider's whole `publishStorageDeals` batch.
contract GasBurningWalletMock is IERC1271 {
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        uint256 x;
        while (gasleft() > 0) {
            x = uint256(keccak256(abi.encode(x)));
        }
        return bytes4(uint32(x));
    }
}
