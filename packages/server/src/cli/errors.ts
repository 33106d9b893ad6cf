/**
 * A failure the CLI itself detects (bad input file, nothing to do): printed like a server
 * error, `error: <code>: <message>`, with its own exit code.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}
