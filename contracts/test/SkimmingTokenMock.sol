// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 with a planted conservation bug, to show that the property tests
/// catch one with their default number of runs: every transfer sent by `skimmed` whose amount is
/// 2 mod 3 moves one base unit more than asked, as if the sender's books had paid out too much.
contract SkimmingTokenMock is ERC20 {
    /// @notice The account whose outgoing transfers are skimmed (zero: none).
    address public skimmed;

    /// @param supply Base units minted to the deployer.
    constructor(uint256 supply) ERC20("Skimming", "SK") {
        _mint(msg.sender, supply);
    }

    /// @notice Starts skimming `account`'s outgoing transfers.
    function setSkimmed(address account) external {
        skimmed = account;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && from == skimmed && value % 3 == 2) value += 1;
        super._update(from, to, value);
    }
}
