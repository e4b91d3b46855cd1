//! Keys and secrets. In production they come from the environment and the service refuses to
//! start without them; the embedded default generates them once into `DATA_DIR/secrets/` with
//! owner-only permissions.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use rand::RngCore;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Bytes that must not be printed: `Debug` shows only their length.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([{} bytes redacted])", self.0.len())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppEnv {
    /// Single machine, SQLite, secrets generated into the data folder.
    Embedded,
    /// Secrets must be given in the environment.
    Production,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "{name} is required when APP_ENV=production (at least {MIN_SECRET_BYTES} random bytes)"
    )]
    Missing { name: &'static str },
    #[error(
        "{name} is too short: {len} bytes given, at least {MIN_SECRET_BYTES} random bytes needed"
    )]
    TooShort { name: &'static str, len: usize },
    #[error("{name} does not look random (too few distinct characters); generate one with `openssl rand -base64 48`")]
    NotRandom { name: &'static str },
    #[error("cannot read or create the secret file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One secret: from the environment value if given, else (embedded mode only) from a file in
/// `DATA_DIR/secrets/`, generated on first use.
pub fn load(
    name: &'static str,
    from_env: Option<&str>,
    app_env: AppEnv,
    data_dir: &Path,
) -> Result<Vec<u8>, SecretError> {
    if let Some(value) = from_env.filter(|v| !v.is_empty()) {
        return check(name, value.as_bytes().to_vec());
    }
    match app_env {
        AppEnv::Production => Err(SecretError::Missing { name }),
        AppEnv::Embedded => {
            let file = data_dir.join("secrets").join(name.to_ascii_lowercase());
            let value = read_or_generate(&file)?;
            check(name, value)
        }
    }
}

fn check(name: &'static str, value: Vec<u8>) -> Result<Vec<u8>, SecretError> {
    if value.len() < MIN_SECRET_BYTES {
        return Err(SecretError::TooShort {
            name,
            len: value.len(),
        });
    }
    let mut distinct = value.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 {
        return Err(SecretError::NotRandom { name });
    }
    Ok(value)
}

fn read_or_generate(path: &Path) -> Result<Vec<u8>, SecretError> {
    let fail = |source| SecretError::File {
        path: path.to_owned(),
        source,
    };
    if let Some(folder) = path.parent() {
        // DATA_DIR too, when it is created here: 0700, like the secrets' own folder.
        crate::files::private_dir(folder).map_err(fail)?;
        restrict(folder, 0o700).map_err(fail)?;
    }
    match fs::read_to_string(path) {
        Ok(text) => {
            restrict(path, 0o600).map_err(fail)?;
            Ok(text.trim().as_bytes().to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 48];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let text = hex::encode(bytes);
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(path).map_err(fail)?;
            file.write_all(text.as_bytes()).map_err(fail)?;
            file.sync_all().map_err(fail)?;
            tracing::info!(path = %path.display(), "generated a new secret");
            Ok(text.into_bytes())
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("fenghua-secrets-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn production_refuses_missing_or_short_secrets() {
        let dir = temp_dir();
        assert!(matches!(
            load("JWT_SECRET", None, AppEnv::Production, &dir),
            Err(SecretError::Missing { .. })
        ));
        assert!(matches!(
            load("JWT_SECRET", Some("too-short"), AppEnv::Production, &dir),
            Err(SecretError::TooShort { len: 9, .. })
        ));
        assert!(matches!(
            load(
                "JWT_SECRET",
                Some(&"ab".repeat(20)),
                AppEnv::Production,
                &dir
            ),
            Err(SecretError::NotRandom { .. })
        ));
        let good = "k3J9x2LqP0vN8mR4tY7wZ1aB5cD6eF9gH2iJ";
        assert_eq!(
            load("JWT_SECRET", Some(good), AppEnv::Production, &dir).unwrap(),
            good.as_bytes()
        );
        assert!(!dir.exists(), "production writes nothing");
    }

    #[cfg(unix)]
    #[test]
    fn embedded_generates_once_with_owner_only_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir();
        let first = load("JWT_SECRET", None, AppEnv::Embedded, &dir).unwrap();
        let second = load("JWT_SECRET", None, AppEnv::Embedded, &dir).unwrap();
        assert_eq!(first, second);
        assert!(first.len() >= MIN_SECRET_BYTES);
        let file = dir.join("secrets").join("jwt_secret");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(dir.join("secrets"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
