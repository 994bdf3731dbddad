/** The provider's SQLite schema, oldest migration first; never edit a released one. */
export const PROVIDER_MIGRATIONS = [
  `CREATE TABLE proposals (
     proposal_hash TEXT PRIMARY KEY,
     client TEXT NOT NULL,
     submitter TEXT NOT NULL,
     proposal_json TEXT NOT NULL,
     client_signature TEXT NOT NULL,
     piece_cid_v2 TEXT NOT NULL,
     root TEXT NOT NULL,
     payload_size INTEGER NOT NULL,
     padded_size INTEGER NOT NULL,
     status TEXT NOT NULL,
     reason TEXT,
     deal_id TEXT,
     tx_hash TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX proposals_status ON proposals(status);
   CREATE TABLE deals (
     deal_id TEXT PRIMARY KEY,
     proposal_hash TEXT NOT NULL,
     root TEXT NOT NULL,
     generation INTEGER NOT NULL,
     start_leaf TEXT NOT NULL,
     log2_leaves INTEGER NOT NULL,
     start_epoch TEXT NOT NULL,
     end_epoch TEXT NOT NULL,
     status TEXT NOT NULL,
     closed_reason TEXT
   );
   CREATE INDEX deals_root ON deals(root);
   CREATE INDEX deals_status ON deals(status, generation);
   CREATE TABLE pieces (
     root TEXT PRIMARY KEY,
     piece_cid_v2 TEXT NOT NULL,
     payload_size INTEGER NOT NULL,
     padded_size INTEGER NOT NULL,
     status TEXT NOT NULL,
     verified_at INTEGER
   );
   CREATE TABLE manifests (droot TEXT PRIMARY KEY, json TEXT NOT NULL, stored_at INTEGER NOT NULL);
   CREATE TABLE request_nonces (
     signer TEXT NOT NULL,
     nonce TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (signer, nonce)
   );`,
  `CREATE TABLE retrievals (
     id TEXT PRIMARY KEY,
     client TEXT NOT NULL,
     root TEXT NOT NULL,
     piece_cid TEXT NOT NULL,
     start_offset INTEGER NOT NULL,
     end_offset INTEGER NOT NULL,
     channel_id TEXT NOT NULL,
     lane INTEGER NOT NULL,
     price_per_byte TEXT NOT NULL,
     interval_bytes INTEGER NOT NULL,
     interval_increase INTEGER NOT NULL,
     max_unpaid INTEGER NOT NULL,
     intervals_served INTEGER NOT NULL DEFAULT 0,
     bytes_sent INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX retrievals_lane ON retrievals(channel_id, lane);
   CREATE TABLE vouchers (
     channel_id TEXT NOT NULL,
     lane INTEGER NOT NULL,
     nonce TEXT NOT NULL,
     amount TEXT NOT NULL,
     voucher_json TEXT NOT NULL,
     signature TEXT NOT NULL,
     redeemed_amount TEXT NOT NULL DEFAULT '0',
     PRIMARY KEY (channel_id, lane)
   );
   CREATE TABLE channels (
     channel_id TEXT PRIMARY KEY,
     payer TEXT NOT NULL,
     collected INTEGER NOT NULL DEFAULT 0
   );`,
  // Holdings advertisements (seed 002's epoch slots): every change to the set of good pieces is
  // logged by triggers, so "what changed since sequence n" is one indexed query.
  `CREATE TABLE holdings_log (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     piece_cid_v2 TEXT NOT NULL,
     change TEXT NOT NULL CHECK (change IN ('add', 'remove')),
     at INTEGER NOT NULL
   );
   CREATE TRIGGER holdings_insert AFTER INSERT ON pieces WHEN NEW.status = 'ok' BEGIN
     INSERT INTO holdings_log (piece_cid_v2, change, at) VALUES (NEW.piece_cid_v2, 'add', unixepoch() * 1000);
   END;
   CREATE TRIGGER holdings_status AFTER UPDATE OF status ON pieces WHEN NEW.status IS NOT OLD.status BEGIN
     INSERT INTO holdings_log (piece_cid_v2, change, at)
     VALUES (NEW.piece_cid_v2, CASE NEW.status WHEN 'ok' THEN 'add' ELSE 'remove' END, unixepoch() * 1000);
   END;
   CREATE TRIGGER holdings_delete AFTER DELETE ON pieces WHEN OLD.status = 'ok' BEGIN
     INSERT INTO holdings_log (piece_cid_v2, change, at) VALUES (OLD.piece_cid_v2, 'remove', unixepoch() * 1000);
   END;`,
  // Small facts about the daemon itself (the chain checkpoint of actors-ts/chain/checkpoint.ts).
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // Deals live in per-client data sets (decisions 23): a data set id and a piece index replace
  // the provider-wide proof-set generation and leaf offset.
  `DROP INDEX deals_status;
   ALTER TABLE deals RENAME COLUMN generation TO data_set_id;
   ALTER TABLE deals RENAME COLUMN start_leaf TO piece_index;
   CREATE INDEX deals_status ON deals(status, data_set_id);`,
  // The unpaid allowance belongs to the client, not to each lane (decisions 37): every lane keeps
  // the bytes it was sent beyond what its best voucher pays for, and the lanes that owe any are
  // found by client and by channel through two small partial indexes. Lanes served before this
  // migration get their unpaid bytes from their vouchers (rounding aside).
  `ALTER TABLE retrievals ADD COLUMN unpaid_bytes INTEGER NOT NULL DEFAULT 0;
   UPDATE retrievals SET unpaid_bytes = MAX(0, CAST(
       (bytes_sent - start_offset)
       - COALESCE((SELECT CAST(v.amount AS REAL) FROM vouchers v
                   WHERE v.channel_id = retrievals.channel_id AND v.lane = retrievals.lane), 0)
         / CAST(price_per_byte AS REAL)
     AS INTEGER))
   WHERE bytes_sent > start_offset AND CAST(price_per_byte AS REAL) > 0;
   CREATE INDEX retrievals_unpaid_client ON retrievals(lower(client)) WHERE unpaid_bytes > 0;
   CREATE INDEX retrievals_unpaid_channel ON retrievals(channel_id) WHERE unpaid_bytes > 0;`,
  // A retrieval may be of a sub-chunk plan (piece/subchunk-proof.ts): its offsets are then into
  // the plan's stream, and the plan is kept as JSON.
  `ALTER TABLE retrievals ADD COLUMN plan TEXT;`,
];
