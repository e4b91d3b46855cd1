//! The resident identity card number (公民身份号码, GB 11643-1999): 17 digits and a check
//! character (ISO 7064 MOD 11-2). The first six digits are the region of first registration
//! (any region is accepted: pre-2016 Fenghua numbers carry 330283), the next eight the birth
//! date, and the 17th digit is odd for men and even for women.

use chrono::NaiveDate;

use super::resident::Sex;

/// A valid ID number, upper-case. Its `Debug` form is masked so it cannot reach a log by
/// accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdNumberError {
    Length,
    Characters,
    BirthDate,
    CheckDigit,
}

impl IdNumberError {
    pub fn code(self) -> &'static str {
        match self {
            IdNumberError::Length => "invalid_length",
            IdNumberError::Characters => "invalid_characters",
            IdNumberError::BirthDate => "invalid_birth_date",
            IdNumberError::CheckDigit => "invalid_check_digit",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            IdNumberError::Length => "an ID number has 18 characters",
            IdNumberError::Characters => "an ID number is 17 digits followed by a digit or X",
            IdNumberError::BirthDate => "the birth date inside the ID number is not a real date",
            IdNumberError::CheckDigit => "the check character does not match: a digit is mistyped",
        }
    }
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The check character for the first 17 digits.
pub fn check_character(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses and checks an ID number; surrounding spaces are ignored, a lower-case `x` is
    /// accepted and normalised.
    pub fn parse(raw: &str) -> Result<Self, IdNumberError> {
        let value = raw.trim().to_ascii_uppercase();
        let bytes = value.as_bytes();
        if bytes.len() != 18 {
            return Err(IdNumberError::Length);
        }
        if !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(IdNumberError::Characters);
        }
        let birth = &value[6..14];
        NaiveDate::parse_from_str(birth, "%Y%m%d").map_err(|_| IdNumberError::BirthDate)?;
        if check_character(&bytes[..17]) != bytes[17] {
            return Err(IdNumberError::CheckDigit);
        }
        Ok(IdNumber(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("checked when parsed")
    }

    pub fn sex(&self) -> Sex {
        let digit = self.0.as_bytes()[16] - b'0';
        if digit % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// `330213************`: the region only. See [`mask_id_number`].
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }
}

/// Characters of an ID number that a mask hides: the birth date, the sequence and the check
/// character (positions 7 to 18).
const HIDDEN: usize = 12;

/// Masks an 18-character ID number, or anything starting with one (a certificate number keeps
/// its category, grade and reissue suffix): only the six digits of the region stay.
///
/// A mask is only as good as what is shown beside it. The views show the birth year and the
/// sex, so a masked number leaves every day of that year and every sequence of that sex (500)
/// possible: 182,500 numbers, 182,000 at least. Showing the check character would divide that
/// by 11 and the last sequence digit by 5 more, and the birth date (or the age with the year)
/// would leave a few hundred, so none of them is shown; the whole number is reached only
/// through an audited reveal.
pub fn mask_id_number(value: &str) -> String {
    if value.len() < 18 || !value.is_ascii() {
        return "*".repeat(value.chars().count());
    }
    format!("{}{}{}", &value[..6], "*".repeat(HIDDEN), &value[18..])
}

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// Makes a valid ID number from a region, a birth date and a sequence (three digits, whose
/// parity gives the sex): for test data and the demo generator.
pub fn compose(region: &str, birth: NaiveDate, sequence: u16) -> IdNumber {
    let first17 = format!("{region}{}{sequence:03}", birth.format("%Y%m%d"));
    let check = check_character(first17.as_bytes()) as char;
    IdNumber(format!("{first17}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn accepts_valid_numbers_of_any_region() {
        // The worked example of GB 11643 (check character X).
        let id = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.sex(), Sex::Female);
        let old_fenghua = compose("330283", NaiveDate::from_ymd_opt(1980, 2, 29).unwrap(), 17);
        assert!(IdNumber::parse(old_fenghua.as_str()).is_ok());
        assert_eq!(old_fenghua.sex(), Sex::Male);
    }

    #[test]
    fn refuses_each_kind_of_bad_number() {
        assert_eq!(
            IdNumber::parse("33021319900101123"),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            IdNumber::parse("3302131990010112345"),
            Err(IdNumberError::Length)
        );
        assert_eq!(
            IdNumber::parse("33021319900101A234"),
            Err(IdNumberError::Characters)
        );
        assert_eq!(
            IdNumber::parse("330213199002301234"),
            Err(IdNumberError::BirthDate)
        );
        let good = compose("330213", NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(), 123);
        let mut bad = good.as_str().to_owned();
        let last = if bad.ends_with('0') { "1" } else { "0" };
        bad.replace_range(17..18, last);
        assert_eq!(IdNumber::parse(&bad), Err(IdNumberError::CheckDigit));
    }

    #[test]
    fn masks_everything_but_the_region() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.masked(), "110105************");
        assert_eq!(format!("{id:?}"), "IdNumber(110105************)");
        assert_eq!(
            mask_id_number("11010519491231002X41B1"),
            "110105************41B1"
        );
        assert_eq!(mask_id_number("short"), "*****");
    }

    /// What the views show together (the mask, the birth year, the sex) leaves every day of
    /// the year and 500 sequences possible.
    #[test]
    fn the_mask_with_birth_year_and_sex_leaves_many_numbers() {
        let id = compose("330213", NaiveDate::from_ymd_opt(1980, 3, 15).unwrap(), 22);
        let mask = id.masked();
        let mut consistent = 0;
        let mut day = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap();
        while day.year() == 1980 {
            for sequence in 0..1000u16 {
                let candidate = compose("330213", day, sequence);
                if candidate.masked() == mask && candidate.sex() == id.sex() {
                    consistent += 1;
                }
            }
            day = day.succ_opt().unwrap();
        }
        assert_eq!(consistent, 366 * 500);
    }
}
