// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title PaymentToken
/// @notice A plain OpenZeppelin ERC-20 for devnets and tests: the whole supply is minted to the
/// deployer, who hands it out. Production deployments use an existing token instead.
contract PaymentToken is ERC20 {
    /// @notice Deploys the token and mints `initialSupply` to the deployer.
    /// @param name_ Token name.
    /// @param symbol_ Token symbol.
    /// @param initialSupply Base units minted to the deployer (18 decimals).
    constructor(string memory name_, string memory symbol_, uint256 initialSupply) ERC20(name_, symbol_) {
        _mint(msg.sender, initialSupply);
    }
}
