//! Account rules: usernames and the password policy (NIST SP 800-63B: length, not composition,
//! and no commonly used passwords).

use crate::error::FieldError;

pub const PASSWORD_MIN_CHARS: usize = 12;
/// Bounds the work argon2 does for one attempt.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Passwords of policy length that appear at the top of leaked-password lists, lower-cased.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789123",
    "1234567890qwe",
    "111111111111",
    "000000000000",
    "123123123123",
    "121212121212",
    "112233445566",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "p@ssw0rd1234",
    "passw0rd1234",
    "password@123",
    "password!234",
    "qwerty123456",
    "qwertyuiop12",
    "qwertyuiopas",
    "qwertyuiop123",
    "qwerty1234567",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "qazwsxedcrfv",
    "zxcvbnm12345",
    "zxcvbnm123456",
    "asdfghjkl123",
    "abc123456789",
    "abcd12345678",
    "a12345678901",
    "aa1234567890",
    "iloveyou1234",
    "welcome12345",
    "changeme1234",
    "letmein12345",
    "administrator",
    "admin1234567",
    "admin@123456",
    "admin123456789",
    "root12345678",
    "woaini1314520",
    "woaini123456",
    "5201314520",
    "520131452013",
    "1314520520",
    "caonima123456",
    "fenghua12345",
    "fenghua123456",
    "ningbo123456",
    "zhejiang1234",
    "canlian12345",
    "canlian123456",
    "football1234",
    "baseball1234",
    "superman1234",
    "sunshine1234",
    "princess1234",
    "dragon123456",
];

fn field(code: &str, message: &str) -> FieldError {
    FieldError::new("password", code, message)
}

/// Checks a new password; `username` is refused as a password too.
pub fn check_password(password: &str, username: &str) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(field(
            "too_short",
            &format!("use at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(field(
            "too_long",
            &format!("use at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        return Err(field(
            "too_common",
            "this password is on lists of common passwords; choose another",
        ));
    }
    if lowered.contains(&username.to_lowercase()) && !username.is_empty() {
        return Err(field(
            "contains_username",
            "the password must not contain the username",
        ));
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return Err(field(
            "repeated",
            "a single repeated character is not a password",
        ));
    }
    Ok(())
}

/// A username: 3 to 64 of `a-z 0-9 . _ -`, stored lower-case.
pub fn normalize_username(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim().to_ascii_lowercase();
    let ok = (3..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(name)
    } else {
        Err(FieldError::new(
            "username",
            "invalid",
            "use 3 to 64 characters: letters, digits, '.', '_' or '-'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules() {
        assert_eq!(check_password("short", "u").unwrap_err().code, "too_short");
        assert_eq!(
            check_password(&"ab".repeat(65), "u").unwrap_err().code,
            "too_long"
        );
        // Characters, not bytes: twelve Chinese characters pass.
        assert!(check_password("奉化区残疾人联合会一人一档", "u").is_ok());
        assert_eq!(
            check_password("奉化区残疾人联合会", "u").unwrap_err().code,
            "too_short"
        );
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        assert_eq!(
            check_password("Password1234", "u").unwrap_err().code,
            "too_common"
        );
        assert_eq!(
            check_password("123456789012", "u").unwrap_err().code,
            "too_common"
        );
        assert_eq!(
            check_password("aaaaaaaaaaaaaa", "u").unwrap_err().code,
            "repeated"
        );
        assert_eq!(
            check_password("zhangsan-secret-1", "zhangsan")
                .unwrap_err()
                .code,
            "contains_username"
        );
        assert!(check_password("correct horse battery staple", "zhangsan").is_ok());
    }

    #[test]
    fn usernames() {
        assert_eq!(normalize_username(" Zhang.San ").unwrap(), "zhang.san");
        assert!(normalize_username("ab").is_err());
        assert!(normalize_username("has space").is_err());
        assert!(normalize_username("张三").is_err());
    }
}
