import { Command } from "commander";
import { clientCommand } from "./client-commands";
import { providerCommand } from "./provider-commands";
import { repairCommand } from "./repair-commands";
import { dealbotCommand } from "./dealbot-commands";

/** The `repair-market` command line. */
export function buildProgram(): Command {
  return new Command("repair-market")
    .description(
      "A storage market with repair-backed durability on EVM chains.\n" +
        "Keys come from --key or $RM_PRIVATE_KEY; the chain from --rpc or $RM_RPC_URL.",
    )
    .version("0.1.0")
    .addCommand(providerCommand())
    .addCommand(clientCommand())
    .addCommand(repairCommand())
    .addCommand(dealbotCommand());
}

/** Runs the CLI with `argv` (process.argv form). */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}

if (require.main === module) {
  main(process.argv).catch((err) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
