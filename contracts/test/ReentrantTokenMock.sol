// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only ERC-20 that calls back into a target during `transfer` / `transferFrom`
/// once armed, to prove the markets' reentrancy guards hold.
contract ReentrantTokenMock is ERC20 {
    address public callbackTarget;
    bytes public callData;
    bool public armed;

    constructor(uint256 supply) ERC20("Reentrant", "RE") {
        _mint(msg.sender, supply);
    }

    /// @notice The next transfer calls `target` with `data` and bubbles up its revert.
    function arm(address target_, bytes calldata data) external {
        callbackTarget = target_;
        callData = data;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed) {
            armed = false;
            (bool ok, bytes memory ret) = callbackTarget.call(callData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
        }
    }
}
