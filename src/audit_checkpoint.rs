//! Anchors of the audit trail outside the database (DESIGN §6).
//!
//! The hash chain proves that nobody changed the trail without recomputing every later hash;
//! it cannot prove that the trail is still all there. An emptied table (a PostgreSQL
//! `TRUNCATE`, a dropped trigger and a `DELETE`) is a valid chain of no events, and a trail cut
//! at its end is a valid shorter chain. So the service keeps the head it last verified, the
//! checkpoint, where the database cannot reach it: `DATA_DIR/audit-checkpoint` (mode 0600 in a
//! folder of mode 0700), and an operator can pin a head exported earlier with
//! `AUDIT_CHECKPOINT=SEQ:HASH`. Verifying the trail then also requires that the event of each
//! anchor is still there with its hash.
//!
//! The file moves forward only over events that verify: after a verification
//! (`GET /api/v1/audit-events/verify`), and every `AUDIT_CHECKPOINT_INTERVAL_SECS` after
//! checking the events appended since the last checkpoint. It never moves back, and never
//! past a broken link.
//!
//! What this file does not do is prove who wrote the events: someone with database access can
//! edit one and recompute every later hash, and the file only notices once the rewrite reaches
//! its checkpoint. The events' MACs and the signed checkpoints in the database, under
//! `AUDIT_CHAIN_KEY`, do ([`crate::audit::anchor`]); both walks here are theirs
//! ([`audit::verify`]), incremental from the last signed checkpoint.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::{self, BrokenLink, ChainReport, Walk};
use crate::db::{self, DbConn};
use crate::error::AppError;

/// The file in `DATA_DIR` that holds the last checkpoint.
pub const FILE_NAME: &str = "audit-checkpoint";

/// A head of the trail: the event `seq` and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
}

impl Checkpoint {
    /// `SEQ:HASH`, as `/verify` reports `head_seq` and `head_hash`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (seq, hash) = raw
            .trim()
            .split_once(':')
            .ok_or("write it as SEQ:HASH, the head_seq and head_hash of a verification")?;
        let seq: i64 = seq
            .trim()
            .parse()
            .ok()
            .filter(|s| *s >= 1)
            .ok_or("SEQ is an event number from 1")?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("HASH is 64 hexadecimal characters".to_owned());
        }
        Ok(Checkpoint { seq, hash })
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// The checkpoint in `DATA_DIR`, if one was written.
pub fn read(data_dir: &Path) -> std::io::Result<Option<Checkpoint>> {
    match fs::read_to_string(path(data_dir)) {
        Ok(text) => Checkpoint::parse(&text)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the checkpoint (a new file renamed over the old one, so a crash leaves the one or
/// the other), unless the stored one is further along.
pub fn write(data_dir: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    if read(data_dir)
        .ok()
        .flatten()
        .is_some_and(|stored| stored.seq > checkpoint.seq)
    {
        return Ok(());
    }
    crate::files::private_dir(data_dir)?;
    let target = path(data_dir);
    let temporary = data_dir.join(format!("{FILE_NAME}.{}", uuid::Uuid::new_v4().simple()));
    let mut file = crate::files::private_file(&temporary)?;
    file.write_all(format!("{checkpoint}\n").as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, &target)
}

/// An anchor that a verification compared the trail with.
#[derive(Debug, Clone, Serialize)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    /// `file` (`DATA_DIR/audit-checkpoint`) or `configured` (`AUDIT_CHECKPOINT`).
    pub source: &'static str,
}

/// A verification of the chain and of its anchors.
#[derive(Debug, Serialize)]
pub struct Verification {
    #[serde(flatten)]
    pub chain: ChainReport,
    /// The anchors compared, as they were before this verification moved the file's on.
    pub anchors: Vec<Anchor>,
}

/// Where the event of an anchor stands in the trail: `None` when it is there with its hash.
fn anchor_problem(
    conn: &mut DbConn,
    anchor: &Checkpoint,
) -> diesel::QueryResult<Option<&'static str>> {
    let found = db::audit::page_after(conn, anchor.seq - 1, 1)?
        .into_iter()
        .next()
        .filter(|row| row.seq == anchor.seq);
    Ok(match found {
        None => Some("checkpoint_missing"),
        Some(row) if row.hash != anchor.hash => Some("checkpoint_mismatch"),
        Some(_) => None,
    })
}

fn break_at(chain: &mut ChainReport, seq: i64, problem: &'static str) {
    chain.valid = false;
    chain.head_seq = None;
    chain.head_hash = None;
    chain.first_broken = Some(BrokenLink { seq, problem });
}

/// Walks the chain (from its last signed checkpoint, or all of it) and compares it with the
/// anchors (the configured one and the file's); when everything holds, moves the file's
/// checkpoint to the head.
pub fn verify(
    conn: &mut DbConn,
    data_dir: &Path,
    configured: Option<&Checkpoint>,
    walk: Walk,
) -> Result<Verification, AppError> {
    let mut chain = audit::verify(conn, walk)?;
    let stored = read(data_dir).map_err(|e| {
        AppError::internal(format!("the audit checkpoint file cannot be read: {e}"))
    })?;
    let anchors: Vec<Anchor> = configured
        .map(|c| (c, "configured"))
        .into_iter()
        .chain(stored.as_ref().map(|c| (c, "file")))
        .map(|(c, source)| Anchor {
            seq: c.seq,
            hash: c.hash.clone(),
            source,
        })
        .collect();
    if chain.valid {
        for anchor in &anchors {
            let checkpoint = Checkpoint {
                seq: anchor.seq,
                hash: anchor.hash.clone(),
            };
            if let Some(problem) = anchor_problem(conn, &checkpoint)? {
                break_at(&mut chain, anchor.seq, problem);
                break;
            }
        }
    }
    if let (true, Some(seq), Some(hash)) = (chain.valid, chain.head_seq, &chain.head_hash) {
        let head = Checkpoint {
            seq,
            hash: hash.clone(),
        };
        write(data_dir, &head).map_err(|e| {
            AppError::internal(format!("the audit checkpoint cannot be written: {e}"))
        })?;
    }
    Ok(Verification { chain, anchors })
}

/// What [`advance`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Advance {
    /// The trail is empty and no checkpoint was ever written.
    Empty,
    /// The checkpoint is at the head, which may have moved.
    At(Checkpoint),
    /// The checkpointed event is gone or altered, or a link after it is broken: the checkpoint
    /// stays where it was.
    Broken { seq: i64, problem: &'static str },
}

/// Checks the events appended since the last signed checkpoint and the file's checkpoint, and
/// moves the file's checkpoint to the head if they hold.
pub fn advance(conn: &mut DbConn, data_dir: &Path) -> Result<Advance, AppError> {
    let verification = verify(conn, data_dir, None, Walk::Incremental)?;
    let chain = verification.chain;
    Ok(
        match (chain.first_broken, chain.head_seq, chain.head_hash) {
            (Some(broken), _, _) => Advance::Broken {
                seq: broken.seq,
                problem: broken.problem,
            },
            (None, Some(seq), Some(hash)) => Advance::At(Checkpoint { seq, hash }),
            (None, _, _) => Advance::Empty,
        },
    )
}

/// [`advance`], reporting to the log: a broken trail is an error someone must look at.
pub fn advance_and_log(conn: &mut DbConn, data_dir: &Path) {
    match advance(conn, data_dir) {
        Ok(Advance::Broken { seq, problem }) => tracing::error!(
            seq,
            problem,
            "the audit trail no longer holds its checkpoint: events were removed or altered; \
             the checkpoint stays where it was"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "the audit trail could not be checkpointed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_seq_and_hash() {
        let hash = "a".repeat(64);
        let checkpoint = Checkpoint::parse(&format!(" 42:{} ", hash.to_uppercase())).unwrap();
        assert_eq!(checkpoint.seq, 42);
        assert_eq!(checkpoint.hash, hash);
        assert_eq!(checkpoint.to_string(), format!("42:{hash}"));
        for bad in [
            "42",
            "0:aa",
            &format!("x:{hash}"),
            "1:abc",
            &format!("1:{}", "g".repeat(64)),
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_never_moves_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("fenghua-cp-{}", uuid::Uuid::new_v4().simple()));
        let at = |seq| Checkpoint {
            seq,
            hash: format!("{seq:064x}"),
        };
        assert_eq!(read(&dir).unwrap(), None);
        write(&dir, &at(5)).unwrap();
        write(&dir, &at(3)).unwrap();
        assert_eq!(read(&dir).unwrap(), Some(at(5)));
        write(&dir, &at(9)).unwrap();
        assert_eq!(read(&dir).unwrap(), Some(at(9)));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path(&dir)), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
