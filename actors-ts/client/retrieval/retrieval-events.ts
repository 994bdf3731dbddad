/** A progress event in the dealbot's words: "Recv: N B, Paid X, <Event> (<Status>)". */
export interface RetrievalEvent {
  received: number;
  paid: bigint;
  event: string;
  status: string;
  detail?: string;
}

/** Formats a {@link RetrievalEvent} as seed 004's event list does. */
export function formatEvent(e: RetrievalEvent): string {
  return `Recv: ${e.received} B, Paid ${e.paid}, ${e.event} (${e.status})${e.detail ? ` ${e.detail}` : ""}`;
}
