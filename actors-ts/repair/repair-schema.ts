/** The repair miner's SQLite schema, oldest migration first; never edit a released one. */
export const REPAIR_MIGRATIONS = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE manifests (droot TEXT PRIMARY KEY, json TEXT NOT NULL);
   CREATE TABLE request_nonces (
     signer TEXT NOT NULL, nonce TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (signer, nonce)
   );
   CREATE TABLE intakes (
     id TEXT PRIMARY KEY,
     client TEXT NOT NULL,
     bid_id TEXT NOT NULL UNIQUE,
     ask_id TEXT NOT NULL,
     deadline TEXT NOT NULL,
     client_signature TEXT NOT NULL,
     droot TEXT NOT NULL,
     status TEXT NOT NULL,
     deal_id TEXT,
     tx_hash TEXT,
     error TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE deals (
     deal_id TEXT PRIMARY KEY,
     droot TEXT NOT NULL,
     client TEXT NOT NULL,
     k INTEGER NOT NULL,
     m INTEGER NOT NULL,
     piece_size TEXT NOT NULL,
     end_epoch TEXT NOT NULL,
     status TEXT NOT NULL,
     local_dropped INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE pieces (
     deal_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     piece_cid TEXT NOT NULL,
     root TEXT NOT NULL,
     payload_size INTEGER NOT NULL,
     state TEXT NOT NULL,
     mode TEXT NOT NULL,
     provider TEXT,
     storage_deal_id TEXT,
     proposal_json TEXT,
     local_path TEXT,
     excluded_json TEXT NOT NULL DEFAULT '[]',
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     fault_epoch TEXT,
     PRIMARY KEY (deal_id, idx)
   );
   CREATE TABLE repairs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     deal_id TEXT NOT NULL,
     indices_json TEXT NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     bytes_downloaded INTEGER NOT NULL DEFAULT 0,
     fault_epoch TEXT,
     reassigned_epoch TEXT,
     created_at INTEGER NOT NULL,
     finished_at INTEGER
   );
   CREATE TABLE evidence (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     deal_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     provider TEXT NOT NULL,
     piece_cid TEXT NOT NULL,
     expected TEXT NOT NULL,
     actual TEXT NOT NULL,
     stage TEXT NOT NULL,
     at INTEGER NOT NULL
   );`,
  // When a repair was confirmed: the new storage deal of every piece it rebuilt proven once.
  `ALTER TABLE repairs ADD COLUMN confirmed_epoch TEXT;`,
  // Storage deals a repair replaced: settled once the market closes them, so their unspent price
  // lock and the slashed collateral owed to the worker come back (issue: every repair leaked).
  `CREATE TABLE retired_storage_deals (
     storage_deal_id TEXT PRIMARY KEY,
     proposal_json TEXT NOT NULL,
     retired_at INTEGER NOT NULL,
     settled_at INTEGER,
     error TEXT
   );`,
  // Every storage deal whose client is the worker (issue 17: the miner recovers all its money):
  // placements, repairs' replacements, deals published by anyone with the worker's signature.
  // Each is settled once the market ends it and marked done once seen closed; `outcome` says how
  // ('settled' by us, 'closed' by anyone, 'foreign': the chain names another client, never sent).
  // The replaced deals already recorded are carried over.
  `CREATE TABLE worker_storage_deals (
     storage_deal_id TEXT PRIMARY KEY,
     proposal_json TEXT NOT NULL,
     found_at INTEGER NOT NULL,
     settled_at INTEGER,
     outcome TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     error TEXT
   );
   INSERT OR IGNORE INTO worker_storage_deals (storage_deal_id, proposal_json, found_at, settled_at, outcome)
     SELECT storage_deal_id, proposal_json, retired_at, settled_at,
            CASE WHEN settled_at IS NULL THEN NULL ELSE 'closed' END
     FROM retired_storage_deals;`,
  // How a repair rebuilt its pieces (k whole pieces, or a Clay piece from d helpers' sub-chunks,
  // and why it fell back): what `repair status` shows beside the bytes downloaded.
  `ALTER TABLE repairs ADD COLUMN method TEXT;`,
];
