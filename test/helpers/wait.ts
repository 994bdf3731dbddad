/**
 * Polls `probe` every 250 ms until it returns a value; throws naming `what` after `timeoutMs`,
 * appending warnings and errors from `diagnostics()` (daemon logs) to the message.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  diagnostics: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const problems = diagnostics()
        .split("\n")
        .filter((l) => /"level":(40|50|60)/.test(l))
        .map((l) => l.slice(0, 600));
      throw new Error(`timed out waiting for ${what}\n${problems.slice(-8).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
