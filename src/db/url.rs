use std::path::PathBuf;

/// A parsed `DATABASE_URL`: `sqlite://path`, `sqlite:path`, a bare path, or `postgres://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL is empty")]
    Empty,
    #[error("DATABASE_URL names no SQLite file")]
    NoSqlitePath,
    #[error("an in-memory SQLite database would be lost on restart and differs per connection; give a file path")]
    InMemory,
    #[error("DATABASE_URL scheme `{0}` is not supported: use sqlite://path or postgres://…")]
    UnknownScheme(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DatabaseUrlError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(raw.to_owned()));
        }
        let path = if let Some(rest) = raw.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("sqlite:") {
            rest
        } else if let Some((scheme, _)) = raw.split_once("://") {
            return Err(DatabaseUrlError::UnknownScheme(scheme.to_owned()));
        } else {
            raw
        };
        if path.is_empty() {
            return Err(DatabaseUrlError::NoSqlitePath);
        }
        if path == ":memory:" || path.contains("mode=memory") {
            return Err(DatabaseUrlError::InMemory);
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }

    /// The URL with any password replaced, fit for logs and error messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    // Query parameters may carry a password too.
                    parsed.set_query(None);
                    parsed.to_string()
                }
                Err(_) => "postgres://(unparseable URL)".to_owned(),
            },
        }
    }
}

/// The `sslmode` of a PostgreSQL URL when it demands TLS (`require`, `verify-ca`,
/// `verify-full`): a libpq without TLS refuses those with a terse error of its own.
pub fn required_tls(raw_url: &str) -> Option<String> {
    let (_, query) = raw_url.split_once('?')?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "sslmode")
        .map(|(_, mode)| mode.into_owned())
        .filter(|mode| matches!(mode.as_str(), "require" | "verify-ca" | "verify-full"))
}

/// Removes from `message` anything of `raw_url` that may be a credential: libpq quotes the URL
/// in some of its errors (a malformed URL, a bad percent-escape).
pub fn scrub_credentials(message: &str, raw_url: &str) -> String {
    let mut secrets: Vec<&str> = Vec::new();
    if let Some((_, rest)) = raw_url.split_once("://") {
        if let Some((userinfo, _)) = rest.rsplit_once('@') {
            secrets.push(userinfo);
            if let Some((_, password)) = userinfo.split_once(':') {
                secrets.push(password);
            }
        }
    }
    if let Some((_, query)) = raw_url.split_once('?') {
        for pair in query.split('&') {
            if let Some(value) = pair.strip_prefix("password=") {
                secrets.push(value);
            }
        }
    }
    let mut scrubbed = message.replace(raw_url, "(the DATABASE_URL)");
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        scrubbed = scrubbed.replace(secret, "***");
    }
    scrubbed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/registry.db").unwrap(),
            DatabaseUrl::Sqlite("data/registry.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/r.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/r.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("/tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
    }

    #[test]
    fn refuses_unknown_and_memory() {
        assert_eq!(
            DatabaseUrl::parse("mysql://x/y"),
            Err(DatabaseUrlError::UnknownScheme("mysql".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://:memory:"),
            Err(DatabaseUrlError::InMemory)
        );
        assert_eq!(DatabaseUrl::parse("  "), Err(DatabaseUrlError::Empty));
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::NoSqlitePath)
        );
    }

    #[test]
    fn scrubs_credentials_from_driver_messages() {
        let raw = "postgres://u:topsecret@[::1/x";
        let message = format!("end of string reached in URI: \"{raw}\"");
        let scrubbed = scrub_credentials(&message, raw);
        assert!(!scrubbed.contains("topsecret"), "{scrubbed}");
        let raw = "postgres://u:top%zzsecret@127.0.0.1:1/x?password=other";
        let scrubbed =
            scrub_credentials("invalid percent-encoded token: \"top%zzsecret\" other", raw);
        assert!(
            !scrubbed.contains("zzsecret") && !scrubbed.contains("other"),
            "{scrubbed}"
        );
    }

    #[test]
    fn tells_when_tls_is_required() {
        let base = "postgres://app@db.internal:5432/registry";
        assert_eq!(required_tls(base), None);
        assert_eq!(required_tls(&format!("{base}?sslmode=prefer")), None);
        assert_eq!(required_tls(&format!("{base}?sslmode=disable")), None);
        for mode in ["require", "verify-ca", "verify-full"] {
            let url = format!("{base}?application_name=x&sslmode={mode}&sslrootcert=%2Fca.pem");
            assert_eq!(required_tls(&url).as_deref(), Some(mode));
        }
    }

    #[test]
    fn redacts_password() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/registry?password=x").unwrap();
        let shown = url.redacted();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("password=x"), "{shown}");
        assert!(shown.contains("db:5432/registry"), "{shown}");
    }
}
