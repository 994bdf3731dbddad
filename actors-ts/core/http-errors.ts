import { RepairMarketError, type ErrorDetails } from "./errors";

/**
 * An error an HTTP handler returns to the caller: status code, a stable `code` for programs and a
 * one-line message for people. Serialised as `{ error: code, message, details }`.
 */
export class HttpError extends RepairMarketError {
  override name = "HttpError" as const;
  constructor(
    readonly statusCode: number,
    readonly code: string,
    shortMessage: string,
    details: ErrorDetails = {},
  ) {
    super(shortMessage, { details });
  }
}

/** JSON body of an error response. */
export interface HttpErrorBody {
  error: string;
  message: string;
  details?: Record<string, unknown>;
}
