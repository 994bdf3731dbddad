import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The provider's Prometheus metrics (bounded label sets only). */
export class ProviderMetrics {
  readonly registry = new Registry();
  readonly proposals = new Counter({
    name: "rm_provider_proposals_total",
    help: "Deal proposals received, by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly uploads = new Counter({
    name: "rm_provider_uploads_total",
    help: "Piece uploads, by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly bytesReceived = new Counter({
    name: "rm_provider_bytes_received_total",
    help: "Piece bytes received",
    registers: [this.registry],
  });
  readonly bytesServed = new Counter({
    name: "rm_provider_bytes_served_total",
    help: "Piece bytes served",
    labelNames: ["paid"] as const,
    registers: [this.registry],
  });
  readonly retrievalRefusals = new Counter({
    name: "rm_provider_retrieval_refusals_total",
    help: "Retrieval data requests refused for the unpaid allowance, by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly dealsPublished = new Counter({
    name: "rm_provider_deals_published_total",
    help: "Deals published on chain",
    registers: [this.registry],
  });
  readonly proofs = new Counter({
    name: "rm_provider_proofs_total",
    help: "Proving periods, by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly faultsDeclared = new Counter({
    name: "rm_provider_faults_declared_total",
    help: "Deals declared faulty by the scrubber",
    registers: [this.registry],
  });
  readonly storedBytes = new Gauge({
    name: "rm_provider_stored_bytes",
    help: "Padded bytes of pieces held",
    registers: [this.registry],
  });
  readonly proveSeconds = new Histogram({
    name: "rm_provider_prove_seconds",
    help: "Time to build and submit a period's proof",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "rm_provider_" });
  }
}
