//! Integration clients: registered by an admin, authenticated with client credentials, each with
//! its scopes and at most one webhook URL with its signing secret.

use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Action, Actor, AuditContext, Event, Outcome};
use crate::auth::token::{ClientClaims, TokenKeys};
use crate::db::integration::{self as store, ClientRow, NewClientRow};
use crate::db::{self, DbConn};
use crate::domain::role::{ClientScope, Role};
use crate::error::{AppError, FieldError};
use crate::protect::Protector;
use crate::use_cases::accounts::timestamp;

/// The integration client behind a client token (DESIGN §5: client credentials).
#[derive(Debug, Clone)]
pub struct ClientCaller {
    pub id: i64,
    pub client_id: String,
    pub name: String,
    /// The scopes of the token that the client still holds.
    pub scopes: Vec<ClientScope>,
}

impl ClientCaller {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.client_id.clone()),
            username: Some(self.name.clone()),
            role: Some(Role::Integration),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<ClientScope>,
    pub webhook_url: Option<String>,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A client with a secret to hand over once: the client secret, the webhook signing secret,
/// or both.
#[derive(Debug, Clone, Serialize)]
pub struct ClientWithSecrets {
    #[serde(flatten)]
    pub client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

pub fn scopes_of(row: &ClientRow) -> Vec<ClientScope> {
    serde_json::from_str::<Vec<String>>(&row.scopes)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| ClientScope::parse(s))
        .collect()
}

fn view(row: &ClientRow) -> ClientView {
    ClientView {
        id: row.public_id.clone(),
        name: row.name.clone(),
        scopes: scopes_of(row),
        webhook_url: row.webhook_url.clone(),
        disabled: row.disabled,
        created_at: timestamp(row.created_at),
        updated_at: timestamp(row.updated_at),
    }
}

fn random_secret(prefix: &str) -> String {
    format!("{prefix}{}", crate::auth::token::new_refresh_token())
}

/// A new client secret: shown once, stored only as an argon2 hash.
pub fn new_client_secret() -> String {
    random_secret("cs_")
}

/// The AAD context of a client's encrypted webhook secret.
fn webhook_context(client_public_id: &str) -> String {
    format!("integration_clients.webhook_secret:{client_public_id}")
}

/// The signing secret of a client's webhook, decrypted.
pub fn webhook_secret(protector: &Protector, row: &ClientRow) -> Option<String> {
    let stored = row.webhook_secret_enc.as_ref()?;
    protector
        .cipher
        .decrypt(stored, &webhook_context(&row.public_id))
        .ok()
}

/// Checks a webhook URL: absolute http(s) with a host, no credentials in it.
pub fn check_webhook_url(raw: &str) -> Result<String, FieldError> {
    let bad = |message: &str| FieldError::new("webhook_url", "invalid_url", message);
    let raw = raw.trim();
    if raw.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("an absolute http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials do not belong in the URL; the body is signed instead",
        ));
    }
    Ok(url.to_string())
}

fn check_name(name: &str) -> Result<String, FieldError> {
    let mut errors = Vec::new();
    let name = crate::domain::text::bounded_field(name, "name", 100, &mut errors);
    errors.pop().map_or(Ok(name), Err)
}

fn check_scopes(scopes: &[ClientScope]) -> Result<Vec<ClientScope>, FieldError> {
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(FieldError::new(
            "scopes",
            "required",
            "grant at least one scope",
        ));
    }
    Ok(scopes)
}

pub struct NewClient {
    pub name: String,
    pub scopes: Vec<ClientScope>,
    pub webhook_url: Option<String>,
}

/// Checks a new client before its secret is hashed.
pub fn check_new(new: NewClient) -> Result<NewClient, AppError> {
    let mut errors = Vec::new();
    let name = check_name(&new.name).map_err(|e| errors.push(e)).ok();
    let scopes = check_scopes(&new.scopes).map_err(|e| errors.push(e)).ok();
    let url = match new.webhook_url.as_deref() {
        Some(url) => check_webhook_url(url).map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    match (name, scopes) {
        (Some(name), Some(scopes)) if errors.is_empty() => Ok(NewClient {
            name,
            scopes,
            webhook_url: url,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

fn scopes_json(scopes: &[ClientScope]) -> String {
    serde_json::to_string(&scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        .expect("scopes serialise")
}

fn audit_image(v: &ClientView) -> serde_json::Value {
    json!({
        "name": v.name,
        "scopes": v.scopes,
        "webhook_url": v.webhook_url,
        "disabled": v.disabled,
    })
}

/// Registers a client whose checked fields and secret hash are given.
pub fn create(
    conn: &mut DbConn,
    ctx: &AuditContext,
    protector: &Protector,
    new: NewClient,
    secret: String,
    secret_hash: String,
) -> Result<ClientWithSecrets, AppError> {
    let public_id = uuid::Uuid::new_v4().to_string();
    let webhook_secret = new.webhook_url.as_ref().map(|_| random_secret("whsec_"));
    let webhook_secret_enc = webhook_secret
        .as_ref()
        .map(|s| protector.cipher.encrypt(s, &webhook_context(&public_id)));
    db::write_transaction(conn, |conn| {
        let now = db::now();
        let id = store::insert_client(
            conn,
            &NewClientRow {
                public_id: &public_id,
                name: &new.name,
                secret_hash: &secret_hash,
                scopes: &scopes_json(&new.scopes),
                webhook_url: new.webhook_url.as_deref(),
                webhook_secret_enc: webhook_secret_enc.as_deref(),
                created_at: now,
                updated_at: now,
            },
        )?;
        let client = view(&store::client_by_id(conn, id)?);
        let mut changes = audit::created(audit_image(&client));
        changes["client_secret"] = json!(audit::REDACTED);
        audit::append(
            conn,
            ctx,
            Event::new(Action::ClientCreate)
                .entity("integration_client", public_id.clone())
                .changes(changes),
        )?;
        Ok(ClientWithSecrets {
            client,
            client_secret: Some(secret),
            webhook_secret,
        })
    })
}

pub fn get(conn: &mut DbConn, public_id: &str) -> Result<ClientView, AppError> {
    let row = store::client_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
    Ok(view(&row))
}

pub fn list(
    conn: &mut DbConn,
    after_id: i64,
    limit: i64,
) -> Result<(Vec<ClientView>, Option<i64>), AppError> {
    let rows = store::clients_page(conn, after_id, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let next = if more {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows.iter().map(view).collect(), next))
}

/// A change an admin makes to a client.
pub enum ClientChange {
    /// A new secret (already hashed); the old secret and every token issued stop working.
    RotateSecret {
        secret: String,
        hash: String,
    },
    SetDisabled(bool),
    /// A new webhook URL with a fresh signing secret, or none.
    SetWebhook(Option<String>),
}

pub fn change(
    conn: &mut DbConn,
    ctx: &AuditContext,
    protector: &Protector,
    public_id: &str,
    change: ClientChange,
) -> Result<ClientWithSecrets, AppError> {
    db::write_transaction(conn, |conn| {
        let row = store::client_by_public_id(conn, public_id)?.ok_or(AppError::NotFound)?;
        let before = view(&row);
        let now = db::now();
        let mut client_secret = None;
        let mut webhook_secret = None;
        let action = match change {
            ClientChange::RotateSecret { secret, hash } => {
                store::set_secret(conn, row.id, &hash, now)?;
                client_secret = Some(secret);
                Action::ClientSecretRotate
            }
            ClientChange::SetDisabled(disabled) => {
                store::set_disabled(conn, row.id, disabled, now)?;
                Action::ClientUpdate
            }
            ClientChange::SetWebhook(url) => {
                webhook_secret = url.as_ref().map(|_| random_secret("whsec_"));
                let enc = webhook_secret.as_ref().map(|s| {
                    protector
                        .cipher
                        .encrypt(s, &webhook_context(&row.public_id))
                });
                store::set_webhook(conn, row.id, url.as_deref(), enc.as_deref(), now)?;
                Action::ClientUpdate
            }
        };
        let after = view(&store::client_by_id(conn, row.id)?);
        let mut changes = audit::diff(&audit_image(&before), &audit_image(&after));
        if client_secret.is_some() {
            changes["client_secret"] = json!(audit::REDACTED);
        }
        if webhook_secret.is_some() {
            changes["webhook_secret"] = json!(audit::REDACTED);
        }
        audit::append(
            conn,
            ctx,
            Event::new(action)
                .entity("integration_client", row.public_id.clone())
                .changes(changes),
        )?;
        Ok(ClientWithSecrets {
            client: after,
            client_secret,
            webhook_secret,
        })
    })
}

/// The client behind a valid client token: enabled, of the token's credential generation, with
/// the token's scopes that it still holds.
pub fn load_caller(
    conn: &mut DbConn,
    claims: &ClientClaims,
) -> Result<Option<ClientCaller>, AppError> {
    let Some(row) = store::client_by_public_id(conn, &claims.sub)? else {
        return Ok(None);
    };
    if row.disabled || row.generation != claims.generation {
        return Ok(None);
    }
    let held = scopes_of(&row);
    let scopes = claims
        .scope
        .split_whitespace()
        .filter_map(ClientScope::parse)
        .filter(|s| held.contains(s))
        .collect();
    Ok(Some(ClientCaller {
        id: row.id,
        client_id: row.public_id,
        name: row.name,
        scopes,
    }))
}

#[derive(Debug, Serialize)]
pub struct ClientToken {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

/// The answer to any failed client authentication, whatever the reason.
pub fn invalid_client() -> AppError {
    AppError::unauthorized(
        "invalid_client",
        "the client is unknown or disabled, or the secret is wrong",
    )
}

/// What the secret check found, decided before the database write.
pub enum SecretCheck {
    /// No such client (a dummy hash was checked to spend the same time).
    Unknown,
    Checked {
        client: Box<ClientRow>,
        matches: bool,
    },
}

/// Issues a token after a checked secret, or the uniform refusal; audited either way.
pub fn finish_token(
    conn: &mut DbConn,
    keys: &TokenKeys,
    ctx: &AuditContext,
    attempted_client_id: &str,
    requested: Option<Vec<ClientScope>>,
    check: SecretCheck,
) -> Result<ClientToken, AppError> {
    let (client, matches) = match check {
        SecretCheck::Unknown => {
            let ctx = ctx.with_actor(Actor {
                user_id: Some(attempted_client_id.chars().take(64).collect()),
                role: Some(Role::Integration),
                ..Actor::default()
            });
            let event = Event::new(Action::ClientTokenFailed)
                .outcome(Outcome::Failure)
                .changes(json!({ "reason": "unknown_client" }));
            audit::append_alone(conn, &ctx, event)?;
            return Err(invalid_client());
        }
        SecretCheck::Checked { client, matches } => (client, matches),
    };
    let ctx = ctx.with_actor(Actor {
        user_id: Some(client.public_id.clone()),
        username: Some(client.name.clone()),
        role: Some(Role::Integration),
    });
    let refusal = if client.disabled {
        Some("disabled")
    } else if !matches {
        Some("wrong_secret")
    } else {
        None
    };
    if let Some(reason) = refusal {
        let event = Event::new(Action::ClientTokenFailed)
            .outcome(Outcome::Failure)
            .entity("integration_client", client.public_id.clone())
            .changes(json!({ "reason": reason }));
        audit::append_alone(conn, &ctx, event)?;
        return Err(invalid_client());
    }
    let held = scopes_of(&client);
    let granted: Vec<ClientScope> = match requested {
        None => held,
        Some(asked) => {
            if let Some(extra) = asked.iter().find(|s| !held.contains(s)) {
                return Err(AppError::bad_request(
                    "invalid_scope",
                    format!("the client does not hold the scope {}", extra.as_str()),
                ));
            }
            asked
        }
    };
    let scope = granted
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let token = keys.issue_client(
        &client.public_id,
        client.generation,
        &scope,
        chrono::Utc::now(),
    );
    let event = Event::new(Action::ClientToken)
        .entity("integration_client", client.public_id.clone())
        .changes(json!({ "scope": scope }));
    audit::append_alone(conn, &ctx, event)?;
    Ok(ClientToken {
        access_token: token,
        token_type: "Bearer",
        expires_in: keys.access_ttl_secs,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        assert_eq!(
            check_webhook_url(" https://hook.example/zlb?x=1 ").unwrap(),
            "https://hook.example/zlb?x=1"
        );
        assert!(check_webhook_url("http://127.0.0.1:8080/h").is_ok());
        for bad in [
            "ftp://x/y",
            "not a url",
            "https://user:pw@host/x",
            "/relative",
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_random_and_prefixed() {
        let a = new_client_secret();
        assert!(a.starts_with("cs_") && a.len() > 40);
        assert_ne!(a, new_client_secret());
    }
}
