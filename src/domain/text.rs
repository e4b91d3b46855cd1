//! Free text that people type: names, addresses, guardian names, reasons, the texts of section
//! records, village and facility names. One rule for all of it, applied before anything is
//! stored: the text is normalised to NFC (a character typed precomposed or as a base and a
//! combining mark is stored one way, so equal names compare and search equal), trimmed, and
//! refused when it holds a character that cannot be seen or that turns the direction of the
//! text around it. U+202E (right-to-left override) makes a name read backwards in every list
//! that shows it, U+200B or U+FEFF make two names that look the same differ, and control
//! characters break the CSV and log lines the text ends up in.
//!
//! Combining marks and variation selectors stay allowed: rare characters of Chinese names are
//! written with ideographic variation sequences.

use unicode_normalization::UnicodeNormalization;

use crate::error::FieldError;

/// A character free text may not hold, found at some place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden(pub char);

impl Forbidden {
    /// The field error for `field`: names the code point, never the text around it.
    pub fn field_error(self, field: impl Into<String>) -> FieldError {
        let code_point = format!("U+{:04X}", u32::from(self.0));
        FieldError::new(
            field,
            "invisible_character",
            format!(
                "holds {code_point}, an invisible, direction-changing or control character; retype the text without it"
            ),
        )
        .with_param("code_point", code_point)
    }
}

/// Format characters (Unicode general category Cf): all invisible, several change the
/// direction of the text (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, U+061C).
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Letters that render as nothing (Hangul fillers, the combining grapheme joiner, Khmer
/// inherent vowels): used to make a blank-looking or look-alike name.
const INVISIBLE: &[u32] = &[0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0];

/// Whether free text may hold `c`.
pub fn is_forbidden(c: char) -> bool {
    let code = u32::from(c);
    c.is_control()
        || FORMAT.iter().any(|(from, to)| (*from..=*to).contains(&code))
        || INVISIBLE.contains(&code)
        // Line and paragraph separators (Zl, Zp).
        || code == 0x2028
        || code == 0x2029
        // Noncharacters.
        || (0xFDD0..=0xFDEF).contains(&code)
        || code & 0xFFFE == 0xFFFE
}

/// The text as it is stored: NFC, trimmed. Refused when it holds a forbidden character
/// anywhere, at its ends too. The result may be empty; the caller checks the length it needs.
pub fn clean(raw: &str) -> Result<String, Forbidden> {
    if let Some(c) = raw.chars().find(|c| is_forbidden(*c)) {
        return Err(Forbidden(c));
    }
    let normalised: String = raw.nfc().collect();
    Ok(normalised.trim().to_owned())
}

/// [`clean`] for a field: a refusal becomes the field's error in `errors`, and the raw text
/// is handed back so the caller can go on collecting errors.
pub fn clean_field(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> String {
    clean(raw).unwrap_or_else(|forbidden| {
        errors.push(forbidden.field_error(field));
        raw.trim().to_owned()
    })
}

/// [`clean`] for a field of 1 to `max` characters: a forbidden character, an empty text or a
/// longer one becomes the field's error in `errors` (with the param `max`).
pub fn bounded_field(raw: &str, field: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    match clean(raw) {
        Err(forbidden) => {
            errors.push(forbidden.field_error(field));
            raw.trim().to_owned()
        }
        Ok(text) => {
            if text.is_empty() || text.chars().count() > max {
                errors.push(
                    FieldError::new(field, "invalid", format!("1 to {max} characters"))
                        .with_param("max", max),
                );
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_invisible_and_direction_changing_characters() {
        for bad in [
            "张\u{202E}三",
            "张\u{200B}三",
            "\u{FEFF}张三",
            "张三\u{200F}",
            "张\u{2066}三\u{2069}",
            "张\u{00AD}三",
            "张\u{3164}",
            "张\u{E0041}三",
            "张\n三",
            "张\t三",
            "张\u{2028}三",
            "张\u{FFFF}",
        ] {
            let forbidden = clean(bad).unwrap_err();
            assert!(is_forbidden(forbidden.0), "{bad:?}");
        }
        assert_eq!(clean("a\u{202E}b"), Err(Forbidden('\u{202E}')));
        let error = Forbidden('\u{202E}').field_error("name");
        assert_eq!(error.code, "invisible_character");
        assert!(error.message.contains("U+202E"), "{}", error.message);
    }

    #[test]
    fn normalises_to_nfc_and_trims() {
        // "é" typed as e and a combining acute accent is stored precomposed.
        assert_eq!(clean(" Jose\u{0301} ").unwrap(), "Jos\u{00E9}");
        assert_eq!(clean("欧阳娜娜").unwrap(), "欧阳娜娜");
        assert_eq!(clean("\u{3000}张三\u{3000}").unwrap(), "张三");
        assert_eq!(clean("   ").unwrap(), "");
        // An ideographic variation sequence (a rare character of a name) stays as it is.
        assert_eq!(clean("葛\u{E0100}").unwrap(), "葛\u{E0100}");
        assert_eq!(clean("Zoë Ω").unwrap(), "Zoë Ω");
    }
}
