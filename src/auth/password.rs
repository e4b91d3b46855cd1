//! Password hashing with argon2id. Both functions are CPU-heavy by design (tens of
//! milliseconds): call them on the blocking pool, never on an async worker.
//!
//! Each hash takes 19 MiB. The blocking pool has up to 512 threads, and the allocator keeps
//! what a thread freed in that thread's arena: hashed on whichever thread the pool picked,
//! fifty sign-ins left the server holding half a gigabyte. So every hash runs on one of a
//! few threads of its own ([`on_hashing_thread`]), one per core: memory stays at a few
//! hashes' worth, and a burst of sign-ins queues instead of taking every core.

use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
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
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashing of a bounded password cannot fail")
            .to_string()
    })
}

/// Checks a password against a stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_owned(), stored.to_owned());
    on_hashing_thread(move || match PasswordHash::new(&stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
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
