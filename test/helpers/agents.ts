/** Re-exported for tests: the agent-process helpers live with the scripts that also use them. */
export * from "../../scripts/lib/agents";
