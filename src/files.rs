//! The service's files at rest: the data folder (mode 0700) and what the service writes in it,
//! the embedded database with its WAL and shared-memory files, the generated secrets and the
//! audit checkpoint (mode 0600). The database holds names and addresses in the clear; nobody
//! but the service's own user has any business reading it.

use std::fs;
use std::path::Path;

/// Creates `dir` and any missing parent with mode 0700. An existing folder is left as it is:
/// it may be anybody's (`/tmp` for a database at `/tmp/x.db`).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The data folder: created with mode 0700, or narrowed to 0700 when it exists wider. It is the
/// service's own (`DATA_DIR`: the embedded database, the secrets, the audit checkpoint).
pub fn secure_data_dir(dir: &Path) -> std::io::Result<()> {
    private_dir(dir)?;
    restrict(dir, 0o700)
}

/// Creates `path` (which must not exist) with mode 0600, for writing.
pub fn private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The embedded database before SQLite opens it: the file is created empty with mode 0600 if
/// missing (an empty file is an empty database), or narrowed to 0600; so are its WAL,
/// shared-memory and journal files when they exist. SQLite creates those later with the
/// database file's mode, so they are 0600 from birth too.
pub fn prepare_database_file(path: &Path) -> std::io::Result<()> {
    match private_file(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => restrict(path, 0o600)?,
        Err(e) => return Err(e),
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = Path::new(&companion);
        if companion.exists() {
            restrict(companion, 0o600)?;
        }
    }
    Ok(())
}

/// Sets `mode` on `path` when its permissions are wider.
#[cfg(unix)]
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_the_owners_only() {
        let root =
            std::env::temp_dir().join(format!("fenghua-files-{}", uuid::Uuid::new_v4().simple()));
        let data = root.join("a").join("data");
        private_dir(&data).unwrap();
        assert_eq!((mode(&root), mode(&data)), (0o700, 0o700));
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        secure_data_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);

        let db = data.join("registry.db");
        prepare_database_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = data.join("registry.db-wal");
        fs::write(&wal, b"").unwrap();
        fs::set_permissions(&wal, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
        prepare_database_file(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        fs::remove_dir_all(root).unwrap();
    }
}
