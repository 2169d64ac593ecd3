//! Caller numbers (ANI) to E.164, and the national significant number to search phone fields for.
//! Every way a number may be written is one row of [`RULES`].

use crate::error::GatewayError;

/// The E.164 maximum.
const MAX_DIGITS: usize = 15;
/// Shorter national numbers are not worth searching (they would match too much).
const MIN_NATIONAL_DIGITS: usize = 4;
/// Characters allowed between the digits.
const PUNCTUATION: &[char] = &[' ', '(', ')', '-', '.', '/'];

/// A number read from its written form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PhoneNumber {
    /// `+` and the international digits.
    pub(crate) e164: String,
    /// The digits after the country calling code.
    pub(crate) national: String,
}

/// How a written number becomes international digits (country code + national number).
struct Rule {
    /// What the rule reads.
    name: &'static str,
    /// Whether it applies to the digits (and whether a `+` led them), given the default country.
    applies: fn(&Written<'_>) -> bool,
    /// The international digits.
    international: fn(&Written<'_>) -> String,
}

/// The digits of the input, whether a `+` led them, and the default country code.
struct Written<'a> {
    digits: &'a str,
    plus: bool,
    default_country: &'a str,
}

/// The rules, tried in order.
const RULES: &[Rule] = &[
    Rule {
        name: "E.164 (+…)",
        applies: |w| w.plus,
        international: |w| w.digits.to_owned(),
    },
    Rule {
        name: "international prefix 00",
        applies: |w| w.digits.starts_with("00"),
        international: |w| w.digits[2..].to_owned(),
    },
    Rule {
        name: "North American international prefix 011",
        applies: |w| w.default_country == "1" && w.digits.starts_with("011"),
        international: |w| w.digits[3..].to_owned(),
    },
    Rule {
        name: "North American number with its 1",
        applies: |w| w.default_country == "1" && w.digits.len() == 11 && w.digits.starts_with('1'),
        international: |w| w.digits.to_owned(),
    },
    Rule {
        name: "national number with trunk prefix 0",
        applies: |w| w.default_country != "1" && w.digits.starts_with('0'),
        international: |w| format!("{}{}", w.default_country, &w.digits[1..]),
    },
    Rule {
        name: "national number",
        applies: |_| true,
        international: |w| format!("{}{}", w.default_country, w.digits),
    },
];

/// Country calling codes of one or two digits; all others have three (the codes are prefix-free).
const SHORT_COUNTRY_CODES: &[&str] = &[
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

fn country_code_length(international: &str) -> usize {
    SHORT_COUNTRY_CODES
        .iter()
        .find(|code| international.starts_with(*code))
        .map_or(3, |code| code.len())
}

/// Reads a written number; `default_country` (digits, e.g. `1`, `44`) applies to national forms.
pub(crate) fn normalize(input: &str, default_country: &str) -> Result<PhoneNumber, GatewayError> {
    let invalid = |why: &str| GatewayError::invalid_field("phone", why.to_owned());
    if !default_country.chars().all(|c| c.is_ascii_digit())
        || default_country.is_empty()
        || default_country.len() > 3
    {
        return Err(GatewayError::invalid_field(
            "default_country_code",
            "must be 1-3 digits, e.g. 1 or 44",
        ));
    }
    let trimmed = input.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if let Some(bad) = rest
        .chars()
        .find(|c| !c.is_ascii_digit() && !PUNCTUATION.contains(c))
    {
        return Err(invalid(&format!(
            "{bad:?} is not part of a phone number (digits, a leading +, spaces, ( ) - . /)"
        )));
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Err(invalid("is required"));
    }
    let written = Written {
        digits: &digits,
        plus,
        default_country,
    };
    let rule = RULES
        .iter()
        .find(|rule| (rule.applies)(&written))
        .expect("the last rule always applies");
    let international = (rule.international)(&written);
    if international.len() > MAX_DIGITS {
        return Err(invalid(&format!(
            "has {} digits read as {}; E.164 allows {MAX_DIGITS}",
            international.len(),
            rule.name
        )));
    }
    let national = international
        .get(country_code_length(&international)..)
        .filter(|national| national.len() >= MIN_NATIONAL_DIGITS)
        .ok_or_else(|| invalid("is too short to search for"))?
        .to_owned();
    Ok(PhoneNumber {
        e164: format!("+{international}"),
        national,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str, country: &str) -> (String, String) {
        let number = normalize(input, country).unwrap();
        (number.e164, number.national)
    }

    #[test]
    fn every_written_form_reads_as_the_same_number() {
        let expected = ("+14155550143".to_owned(), "4155550143".to_owned());
        for input in [
            "+14155550143",
            "+1 (415) 555-0143",
            "(415) 555-0143",
            "415.555.0143",
            "4155550143",
            "1-415-555-0143",
            "0014155550143",
            "011 1 415 555 0143",
        ] {
            assert_eq!(read(input, "1"), expected, "{input}");
        }
    }

    #[test]
    fn reads_other_countries() {
        assert_eq!(
            read("+44 20 7946 0958", "1"),
            ("+442079460958".into(), "2079460958".into())
        );
        assert_eq!(
            read("020 7946 0958", "44"),
            ("+442079460958".into(), "2079460958".into())
        );
        assert_eq!(
            read("0044 20 7946 0958", "49"),
            ("+442079460958".into(), "2079460958".into())
        );
        assert_eq!(
            read("+353 1 555 0100", "1"),
            ("+35315550100".into(), "15550100".into())
        );
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        for (input, complaint) in [
            ("", "required"),
            ("415-CALL-NOW", "not part of a phone number"),
            ("+1234567890123456", "E.164 allows 15"),
            ("12", "too short"),
            ("+99", "too short"),
            ("+0", "too short"),
            ("005", "too short"),
        ] {
            let error = normalize(input, "1").unwrap_err();
            assert!(error.to_string().contains(complaint), "{input}: {error}");
        }
        assert!(normalize("4155550143", "x1").is_err());
    }
}
