//! Access tokens (JWT, HS256) and refresh tokens (opaque, stored hashed).

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ISSUER: &str = "fenghua-registry";
pub const AUDIENCE: &str = "fenghua-registry-api";
/// The audience of integration client tokens: no staff route accepts them, and back.
pub const CLIENT_AUDIENCE: &str = "integration";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// The claims of an access token. `iat` and `jti` are plain fields, so a token without them
/// does not decode; the other registered claims are required through `Validation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user's public id.
    pub sub: String,
    /// The login session (refresh-token family) the token belongs to.
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// The claims of an integration client's access token (client credentials grant).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientClaims {
    pub iss: String,
    pub aud: String,
    /// The client's `client_id`.
    pub sub: String,
    /// The client's credential generation: rotating the secret ends older tokens.
    pub generation: i32,
    /// The granted scopes, space separated (RFC 6749 §3.3).
    pub scope: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    client_validation: Validation,
    pub access_ttl_secs: i64,
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl_secs: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let mut client_validation = validation.clone();
        client_validation.set_audience(&[CLIENT_AUDIENCE]);
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            client_validation,
            access_ttl_secs,
        }
    }

    /// A token for an integration client, with its scopes.
    pub fn issue_client(
        &self,
        client_id: &str,
        generation: i32,
        scope: &str,
        now: DateTime<Utc>,
    ) -> String {
        let iat = now.timestamp();
        let claims = ClientClaims {
            iss: ISSUER.to_owned(),
            aud: CLIENT_AUDIENCE.to_owned(),
            sub: client_id.to_owned(),
            generation,
            scope: scope.to_owned(),
            iat,
            nbf: iat,
            exp: iat + self.access_ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Like [`TokenKeys::validate`], for client tokens (audience `integration`).
    pub fn validate_client(
        &self,
        token: &str,
    ) -> Result<ClientClaims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<ClientClaims>(token, &self.decoding, &self.client_validation)
            .map(|d| d.claims)
    }

    pub fn issue(
        &self,
        user_public_id: &str,
        session_public_id: &str,
        now: DateTime<Utc>,
    ) -> String {
        let iat = now.timestamp();
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: user_public_id.to_owned(),
            sid: session_public_id.to_owned(),
            iat,
            nbf: iat,
            exp: iat + self.access_ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Checks signature, algorithm, issuer, audience, expiry and not-before.
    pub fn validate(&self, token: &str) -> Result<AccessClaims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
    }
}

/// A new refresh token: 32 random bytes, URL-safe base64. Only its hash is stored.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_validate_and_others_do_not() {
        let keys = TokenKeys::new(&[7u8; 32], 900);
        let token = keys.issue("user-1", "session-1", Utc::now());
        let claims = keys.validate(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str()),
            ("user-1", "session-1")
        );
        assert_eq!(claims.exp - claims.iat, 900);

        let other = TokenKeys::new(&[8u8; 32], 900);
        assert!(other.validate(&token).is_err(), "wrong key");
        let expired = keys.issue("u", "s", Utc::now() - chrono::Duration::seconds(3600));
        assert!(keys.validate(&expired).is_err(), "expired");
    }

    #[test]
    fn client_and_staff_tokens_do_not_pass_for_each_other() {
        let keys = TokenKeys::new(&[7u8; 32], 900);
        let client = keys.issue_client("c-1", 2, "applications:write", Utc::now());
        let claims = keys.validate_client(&client).unwrap();
        assert_eq!((claims.sub.as_str(), claims.generation), ("c-1", 2));
        assert_eq!(claims.aud, "integration");
        assert!(
            keys.validate(&client).is_err(),
            "a client token is no staff token"
        );
        let staff = keys.issue("user-1", "session-1", Utc::now());
        assert!(keys.validate_client(&staff).is_err(), "and back");
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}
