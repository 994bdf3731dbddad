import { expect } from "chai";
import { request } from "undici";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connectChain, type ChainClients } from "../../../../actors-ts/chain/clients";
import { createChannel } from "../../../../actors-ts/chain/payment-channels/actions";
import { encodeVoucherHeader, plainVoucher, signVoucher } from "../../../../actors-ts/chain/payment-channels/vouchers";
import { signRequest } from "../../../../actors-ts/core/signed-request";
import { PROVIDER_PATHS, VOUCHER_HEADER } from "../../../../actors-ts/protocol/provider-api";
import type { InProcessMarket } from "../../client/in-process-market";

/** A provider's answer to a {@link RawReader}. */
export interface Answer {
  status: number;
  data: Buffer;
  json(): { error: string; details: Record<string, string | number> };
  /** The error body, or how many bytes came (for assertion messages). */
  text(): string;
}

/**
 * A client that speaks the retrieval protocol by hand (real signed HTTP, real vouchers), to try
 * what the honest client never does.
 */
export class RawReader {
  readonly clients: Promise<ChainClients>;
  private nonce = 0n;

  constructor(
    private readonly market: InProcessMarket,
    private readonly key: Hex,
    private readonly provider: number,
  ) {
    this.clients = connectChain(market.rpcUrl, privateKeyToAccount(key));
  }

  async call(method: "GET" | "POST", path: string, body?: string, extra: Record<string, string> = {}): Promise<Answer> {
    const audience = this.market.providers[this.provider];
    const headers = await signRequest(privateKeyToAccount(this.key), { method, path, body, audience });
    const res = await request(this.market.providerUrl(this.provider) + path, {
      method,
      body,
      headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}), ...extra },
    });
    const data = Buffer.from(await res.body.arrayBuffer());
    return {
      status: res.statusCode,
      data,
      json: () => JSON.parse(data.toString()) as ReturnType<Answer["json"]>,
      text: () => (res.statusCode === 200 ? `${data.length} bytes` : data.toString()),
    };
  }

  async channel(deposit: bigint): Promise<bigint> {
    const { channelId } = await createChannel(
      await this.clients,
      this.market.contracts,
      this.market.providers[this.provider],
      deposit,
    );
    return channelId;
  }

  async open(pieceCid: string, channelId: bigint, offset = 0): Promise<{ retrievalId: string; lane: bigint }> {
    const body = JSON.stringify({ pieceCid, channelId: channelId.toString(), offset });
    const opened = await this.call("POST", PROVIDER_PATHS.retrievals, body);
    expect(opened.status, opened.text()).to.equal(200);
    const json = opened.json() as unknown as { retrievalId: string; lane: string };
    return { retrievalId: json.retrievalId, lane: BigInt(json.lane) };
  }

  async voucher(channelId: bigint, lane: bigint, amount: bigint): Promise<string> {
    this.nonce += 1n;
    const { account, chain } = await this.clients;
    const v = plainVoucher(channelId, lane, this.nonce, amount);
    return encodeVoucherHeader(await signVoucher(account, chain.id, this.market.contracts.paymentChannels, v));
  }

  data(retrievalId: string, offset: number, voucher?: string): Promise<Answer> {
    const path = `${PROVIDER_PATHS.retrievalData(retrievalId)}?offset=${offset}`;
    return this.call("GET", path, undefined, voucher ? { [VOUCHER_HEADER]: voucher } : {});
  }
}

/** Marks the piece bytes a reader was sent; `count` is how many distinct bytes it has. */
export class Coverage {
  private readonly seen: Uint8Array;
  count = 0;

  constructor(private readonly piece: Buffer) {
    this.seen = new Uint8Array(piece.length);
  }

  add(offset: number, answer: Answer): void {
    if (answer.status !== 200) return;
    expect(answer.data.equals(this.piece.subarray(offset, offset + answer.data.length))).to.equal(true);
    for (let i = offset; i < offset + answer.data.length; i++) {
      if (this.seen[i] === 0) this.count++;
      this.seen[i] = 1;
    }
  }
}
