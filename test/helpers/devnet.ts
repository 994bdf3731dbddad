/** Re-exported for tests: the devnet helpers live with the scripts that also use them. */
export * from "../../scripts/lib/devnet";
