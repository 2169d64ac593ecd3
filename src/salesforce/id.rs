//! Salesforce record IDs: 15-character case-sensitive or 18-character case-safe, validated before
//! any call so a typo never costs an API request.

use std::fmt;

/// The alphabet of the 3-character case-safe suffix, indexed by a 5-bit mask.
const CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// A syntactically valid Salesforce record ID, always held in its 18-character form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SalesforceId(String);

/// Why a string is not a Salesforce ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Neither 15 nor 18 characters.
    #[error("must be 15 or 18 characters, got {0}")]
    WrongLength(usize),
    /// A character outside `[0-9A-Za-z]`.
    #[error("contains a character other than letters and digits")]
    InvalidCharacter,
    /// The 18-character form whose last three characters do not match the first fifteen.
    #[error("has an invalid case-safe checksum (expected suffix {expected})")]
    BadChecksum {
        /// The suffix the first fifteen characters call for.
        expected: String,
    },
    /// A valid ID of another object (its key prefix names that object).
    #[error("is not a {expected} ID (its key prefix is {found})")]
    WrongObject {
        /// The object the caller asked for.
        expected: &'static str,
        /// The prefix the ID has.
        found: String,
    },
}

impl SalesforceId {
    /// Parses a 15- or 18-character ID, checking characters and the 18-character checksum.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if !text.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            return Err(IdError::InvalidCharacter);
        }
        match text.len() {
            15 => Ok(Self(format!("{text}{}", checksum_suffix(text)))),
            18 => {
                let expected = checksum_suffix(&text[..15]);
                if text[15..] != expected {
                    return Err(IdError::BadChecksum { expected });
                }
                Ok(Self(text.to_owned()))
            }
            other => Err(IdError::WrongLength(other)),
        }
    }

    /// Parses an ID that must belong to the object with the given key prefix (e.g. `00Q` for Lead).
    pub fn parse_for(text: &str, object: &'static str, key_prefix: &str) -> Result<Self, IdError> {
        let id = Self::parse(text)?;
        if id.key_prefix() != key_prefix {
            return Err(IdError::WrongObject {
                expected: object,
                found: id.key_prefix().to_owned(),
            });
        }
        Ok(id)
    }

    /// The three-character key prefix that names the object type.
    pub fn key_prefix(&self) -> &str {
        &self.0[..3]
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for SalesforceId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SalesforceId({})", self.0)
    }
}

/// Computes the case-safe suffix of a 15-character ID: one character per 5-character chunk, whose
/// bits mark the upper-case letters of that chunk.
fn checksum_suffix(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let mask = chunk
                .iter()
                .enumerate()
                .filter(|(_, byte)| byte.is_ascii_uppercase())
                .fold(0usize, |mask, (position, _)| mask | (1 << position));
            char::from(CHECKSUM_ALPHABET[mask])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_ids_get_their_documented_suffix() {
        assert_eq!(
            SalesforceId::parse("001D000000IqhSL").unwrap().as_str(),
            "001D000000IqhSLIAZ"
        );
        assert_eq!(
            SalesforceId::parse("00Q5g00000AbCdE").unwrap().key_prefix(),
            "00Q"
        );
        assert!(SalesforceId::parse("001D000000IqhSLIAZ").is_ok());
    }

    #[test]
    fn rejects_bad_length_characters_and_checksum() {
        assert_eq!(
            SalesforceId::parse("001D0000"),
            Err(IdError::WrongLength(8))
        );
        assert_eq!(
            SalesforceId::parse("001D000000IqhS'"),
            Err(IdError::InvalidCharacter)
        );
        assert_eq!(
            SalesforceId::parse("001D000000IqhSLAAA"),
            Err(IdError::BadChecksum {
                expected: "IAZ".into()
            })
        );
    }

    #[test]
    fn rejects_an_id_of_another_object() {
        let error = SalesforceId::parse_for("001D000000IqhSL", "Lead", "00Q").unwrap_err();
        assert_eq!(
            error,
            IdError::WrongObject {
                expected: "Lead",
                found: "001".into()
            }
        );
    }

    proptest! {
        #[test]
        fn every_15_char_id_round_trips_through_its_18_char_form(id in "[0-9A-Za-z]{15}") {
            let long = SalesforceId::parse(&id).unwrap();
            prop_assert_eq!(&long.as_str()[..15], id.as_str());
            prop_assert_eq!(SalesforceId::parse(long.as_str()).unwrap(), long);
        }

        #[test]
        fn changing_the_case_of_one_letter_breaks_the_checksum(id in "[0-9A-Za-z]{15}", position in 0usize..15) {
            let long = SalesforceId::parse(&id).unwrap().as_str().to_owned();
            let byte = long.as_bytes()[position];
            prop_assume!(byte.is_ascii_alphabetic());
            let mut flipped = long.clone().into_bytes();
            flipped[position] = if byte.is_ascii_uppercase() { byte.to_ascii_lowercase() } else { byte.to_ascii_uppercase() };
            let flipped = String::from_utf8(flipped).unwrap();
            let rejected = matches!(SalesforceId::parse(&flipped), Err(IdError::BadChecksum { .. }));
            prop_assert!(rejected, "{} accepted", flipped);
        }
    }
}
