// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 that refuses transfers to blocklisted accounts, as USDC and USDT do:
/// shows that one party the token refuses to pay cannot hold the other's funds hostage.
contract BlocklistTokenMock is ERC20 {
    error Blocklisted(address account);

    mapping(address account => bool) public blocked;

    /// @param supply Base units minted to the deployer.
    constructor(uint256 supply) ERC20("Blocklist", "BL") {
        _mint(msg.sender, supply);
    }

    function setBlocked(address account, bool isBlocked) external {
        blocked[account] = isBlocked;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[to]) revert Blocklisted(to);
        super._update(from, to, value);
    }
}
