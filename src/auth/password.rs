//! Password hashing with argon2id. Both functions are CPU-heavy by design (tens of
//! milliseconds): call them on the blocking pool, never on an async worker.
//!
//! Each hash takes 19 MiB. The blocking pool has up to 512 threads, and the allocator keeps
//! what a thread freed in that thread's arena: hashed on whichever thread the pool picked,
//! fifty sign-ins left the server holding half a gigabyte. So every hash runs on one of a
//! few threads of its own ([`on_hashing_thread`]), one per core, each hashing in the same
//! 19 MiB every time ([`argon2_into`]): memory stays at one hash's worth per core, nothing is
//! allocated per sign-in, and a burst of sign-ins queues instead of taking every core.

use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

use std::cell::RefCell;

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

fn params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid argon2 parameters")
}

thread_local! {
    /// The memory of this thread's hashes (19 MiB), allocated by its first hash and reused by
    /// every later one: no allocation, and no page faults, per sign-in.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Fills `out` with the argon2 hash of `password` and `salt`, in this thread's memory. Every
/// block is written before it is read, so what an earlier hash left there does not matter.
fn argon2_into(
    argon: &Argon2,
    blocks: usize,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> bool {
    BLOCKS.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .is_ok()
    })
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `work` on one of the hashing threads and waits for its answer.
fn on_hashing_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = receiver.lock().expect("hashing queue").recv();
                    match job {
                        // A job that panics drops its answer (its caller panics); the thread
                        // goes on serving the others.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                })
                .expect("start a hashing thread");
        }
        Mutex::new(sender)
    });
    let (answer, answered) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = answer.send(work());
    });
    queue
        .lock()
        .expect("hashing queue")
        .send(job)
        .expect("the hashing threads live as long as the process");
    answered.recv().expect("a hashing thread answers every job")
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> String {
    let password = password.to_owned();
    on_hashing_thread(move || {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let raw_salt = salt
            .as_salt()
            .decode_b64(&mut salt_bytes)
            .expect("a generated salt decodes");
        let params = params();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        assert!(
            argon2_into(
                &argon,
                params.block_count(),
                password.as_bytes(),
                raw_salt,
                &mut out
            ),
            "argon2 hashing of a bounded password cannot fail"
        );
        PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).expect("the parameters encode"),
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).expect("a 32-byte output")),
        }
        .to_string()
    })
}

/// Checks a password against a stored PHC string (with the algorithm, version and parameters
/// it names); a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    on_hashing_thread(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm),
            Params::try_from(&parsed),
        ) else {
            return false;
        };
        let Ok(version) = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from)
        else {
            return false;
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let blocks = params.block_count();
        let argon = Argon2::new(algorithm, version, params);
        // `Output`'s comparison takes constant time.
        argon2_into(&argon, blocks, password.as_bytes(), raw_salt, &mut out)
            && Output::new(&out).is_ok_and(|computed| computed == expected)
    })
}

/// Spends the same work as a real check, for a username that does not exist, so the answer
/// time does not tell whether an account exists.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("a password nobody has: 7d1f0c55-8a3e"));
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let stored = hash("correct horse battery staple");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapler", &stored));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(stored, hash("correct horse battery staple"), "salted");
    }

    /// Hashes made and checked by the argon2 crate's own `PasswordHasher` (as stored before
    /// this module reused its memory) verify here, and the other way round.
    #[test]
    fn hashes_are_those_of_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let crate_hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = crate_hasher
            .hash_password(b"kept from before", &salt)
            .unwrap()
            .to_string();
        assert!(verify("kept from before", &theirs));
        assert!(!verify("kept from after", &theirs));
        let ours = hash("made here");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(crate_hasher.verify_password(b"made here", &parsed).is_ok());
        assert!(crate_hasher
            .verify_password(b"made there", &parsed)
            .is_err());
        // Other parameters, named by the stored string, are honoured.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let other = small.hash_password(b"small", &salt).unwrap().to_string();
        assert!(verify("small", &other));
        assert!(!verify("big", &other));
    }

    #[test]
    fn hashes_run_on_the_few_hashing_threads_whoever_asks() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let stored = hash("a password");
        let askers: Vec<_> = (0..4 * cores)
            .map(|_| {
                let stored = stored.clone();
                std::thread::spawn(move || {
                    let name =
                        on_hashing_thread(|| std::thread::current().name().map(str::to_owned));
                    (name, verify("a password", &stored))
                })
            })
            .collect();
        let mut names = std::collections::BTreeSet::new();
        for asker in askers {
            let (name, matched) = asker.join().unwrap();
            assert!(matched);
            names.insert(name.expect("a named hashing thread"));
        }
        assert!(names.iter().all(|n| n.starts_with("argon2-")), "{names:?}");
        assert!(names.len() <= cores, "{names:?}");
    }
}
