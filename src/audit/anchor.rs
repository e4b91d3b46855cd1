//! The chain's anchor in a key the database does not hold: `AUDIT_CHAIN_KEY` (DESIGN §6).
//!
//! Each event's `hash` stays the plain SHA-256 chain, which anyone can recompute by hand
//! ([`super::link_hash`]). Beside it every event carries `mac`, HMAC-SHA256 under
//! `AUDIT_CHAIN_KEY` of its `seq` and `hash`. Someone with database access but not the key
//! can edit an event and recompute every later hash, but not their MACs: [`super::verify`]
//! names the first edited event (`mac_mismatch`).
//!
//! Signed checkpoints (table `audit_chain_checkpoints`: `seq`, `hash`, and their HMAC under
//! the same key, in a domain apart from the events' MACs so one cannot be copied as the other)
//! let verification start where the last clean one ended instead of at the first event, and
//! make a cut at or before a checkpoint visible (`checkpoint_missing`). A checkpoint whose MAC
//! does not hold is `checkpoint_forged`.
//!
//! The lowest checkpoint is where the keyed chain starts: the migration that added the key
//! (2026-12-06-000011) wrote it at the trail's head as it stood, so an existing trail still
//! verifies — its older events have no MAC and are checked by their hashes alone, up to that
//! checkpoint's hash — and every event after it must carry a valid MAC, so removing MACs to
//! pass edited events off as old ones fails. The migration cannot sign (the database does not
//! hold the key); the service signs that one row the first time it starts ([`sign_start`]).
//!
//! The key is the process's: the service, each command and the tests install it once
//! ([`install`]) before appending or verifying.

use std::sync::RwLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::audit::{self as store, CheckpointRow};
use crate::db::DbConn;

/// The key, as an HMAC that has taken it in: cloned for each MAC, so the key is not hashed
/// into its pads again for every event of a bulk write.
static KEY: RwLock<Option<Hmac<Sha256>>> = RwLock::new(None);

/// Makes `key` the one every later append and verification uses.
pub fn install(key: &[u8]) {
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    *KEY.write().unwrap_or_else(|e| e.into_inner()) = Some(keyed);
}

fn keyed(domain: &str, seq: i64, hash: &str) -> Hmac<Sha256> {
    let mut mac = KEY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .expect("AUDIT_CHAIN_KEY is installed (audit::anchor::install) before the trail is used");
    mac.update(format!("fenghua-audit-{domain}\n{seq}\n{hash}").as_bytes());
    mac
}

fn holds(domain: &str, seq: i64, hash: &str, mac: Option<&str>) -> bool {
    mac.and_then(|m| hex::decode(m).ok())
        .is_some_and(|bytes| keyed(domain, seq, hash).verify_slice(&bytes).is_ok())
}

/// The MAC of event `seq` with hash `hash`.
pub fn event_mac(seq: i64, hash: &str) -> String {
    hex::encode(keyed("event", seq, hash).finalize().into_bytes())
}

pub fn event_holds(seq: i64, hash: &str, mac: Option<&str>) -> bool {
    holds("event", seq, hash, mac)
}

pub fn checkpoint_mac(seq: i64, hash: &str) -> String {
    hex::encode(keyed("checkpoint", seq, hash).finalize().into_bytes())
}

pub fn checkpoint_holds(row: &CheckpointRow) -> bool {
    holds("checkpoint", row.seq, &row.hash, row.mac.as_deref())
}

/// Signs the checkpoint where the keyed chain starts, if the migration left it unsigned.
pub fn sign_start(conn: &mut DbConn) -> diesel::QueryResult<()> {
    if let Some(start) = store::checkpoint_at_end(conn, true)? {
        if start.mac.is_none() {
            let mac = checkpoint_mac(start.seq, &start.hash);
            if store::sign_checkpoint(conn, start.seq, &mac)? {
                tracing::info!(
                    seq = start.seq,
                    "signed the start of the keyed audit chain with AUDIT_CHAIN_KEY"
                );
            }
        }
    }
    Ok(())
}

/// Records a signed checkpoint at `seq`.
pub fn record(conn: &mut DbConn, seq: i64, hash: &str) -> diesel::QueryResult<()> {
    store::insert_checkpoint(
        conn,
        &CheckpointRow {
            seq,
            hash: hash.to_owned(),
            mac: Some(checkpoint_mac(seq, hash)),
            created_at: crate::db::now(),
        },
    )
}
