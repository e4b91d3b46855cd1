//! Lists: `limit` and an opaque `cursor`; answers are `{items, next_cursor}`.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The limit asked for, checked: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
pub fn limit(asked: Option<i64>) -> Result<i64, AppError> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::field(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

#[derive(Serialize, Deserialize)]
struct Position<K> {
    /// What the cursor lists, so a cursor of one list is refused by another.
    l: String,
    k: K,
}

/// Encodes the position after which the next page starts.
pub fn encode_cursor<K: Serialize>(list: &str, key: &K) -> String {
    let json = serde_json::to_vec(&Position {
        l: list.to_owned(),
        k: key,
    })
    .expect("cursor serialises");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor made by [`encode_cursor`] for the same list.
pub fn decode_cursor<K: for<'de> Deserialize<'de>>(
    list: &str,
    cursor: &str,
) -> Result<K, AppError> {
    let bad = || {
        AppError::field(
            "cursor",
            "invalid",
            "the cursor is not one this list gave out",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let position: Position<K> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if position.l != list {
        return Err(bad());
    }
    Ok(position.k)
}

/// A file holds the whole list: `limit` and `cursor` are for pages of JSON.
pub fn whole_list_only(limit: Option<i64>, cursor: Option<&str>) -> Result<(), AppError> {
    let field = if limit.is_some() {
        "limit"
    } else if cursor.is_some() {
        "cursor"
    } else {
        return Ok(());
    };
    Err(AppError::field(
        field,
        "json_only",
        "a file holds the whole list; paging is for JSON",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_list() {
        let cursor = encode_cursor("users", &42_i64);
        assert_eq!(decode_cursor::<i64>("users", &cursor).unwrap(), 42);
        assert!(decode_cursor::<i64>("audit", &cursor).is_err());
        assert!(decode_cursor::<i64>("users", "garbage!").is_err());
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(201)).is_err());
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
    }
}
