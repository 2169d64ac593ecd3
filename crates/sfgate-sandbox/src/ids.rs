//! Salesforce record ids: generation, the case-safe 18-char checksum, validation.
//!
//! A 15-char id is `prefix(3) + pod(2) + reserved(1) + counter(9)`, all base62.
//! The 18-char form appends a checksum that encodes, per 5-char chunk, which
//! characters are upper case, so the id survives case-insensitive systems.

/// Base62 alphabet in ASCII order, so fixed-width counters sort like numbers.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Alphabet of the checksum characters.
const CHECKSUM: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
/// The pod and reserved characters of every id this org issues.
const POD: &str = "5g0";

/// Computes the 3-char case-safe suffix of a 15-char id body.
pub(crate) fn checksum(body: &str) -> String {
    body.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(CHECKSUM[bits & 31])
        })
        .collect()
}

/// Extends a 15-char body to the 18-char form.
pub(crate) fn to18(body: &str) -> String {
    format!("{body}{}", checksum(body))
}

/// Encodes `n` as a zero-padded base62 string of `width` chars (wrapping).
fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.into_iter().map(char::from).collect()
}

/// Builds the 18-char id for a key prefix and a sequence number.
pub(crate) fn make(prefix: &str, counter: u64) -> String {
    to18(&format!("{prefix}{POD}{}", base62(counter, 9)))
}

/// Why a string is not an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdError {
    /// Wrong length, a non-alphanumeric char, or a checksum that does not match.
    Malformed,
}

/// Validates a 15- or 18-char id and returns its canonical 18-char form.
pub(crate) fn parse(s: &str) -> Result<String, IdError> {
    if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(IdError::Malformed);
    }
    match s.len() {
        15 => Ok(to18(s)),
        18 if checksum(&s[..15]) == s[15..].to_ascii_uppercase() => Ok(to18(&s[..15])),
        _ => Err(IdError::Malformed),
    }
}

/// The 3-char key prefix of a valid id.
pub(crate) fn prefix(id: &str) -> &str {
    id.get(..3).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_real_pairs() {
        assert_eq!(to18("001D000000IqhSL"), "001D000000IqhSLIAZ");
        assert_eq!(to18("00Q5g00000Abcde"), "00Q5g00000AbcdeEAB");
        assert_eq!(to18("003000000000000"), "003000000000000AAA");
        assert_eq!(checksum("AAAAAAAAAAAAAAA"), "555");
    }

    #[test]
    fn generated_ids_are_valid_and_sorted() {
        let a = make("001", 1_000);
        let b = make("001", 1_001);
        let c = make("001", 62u64.pow(5));
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("0015g0"));
        assert!(a < b && b < c);
        assert_eq!(parse(&a), Ok(a.clone()));
        assert_eq!(parse(&a[..15]), Ok(a.clone()));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse("xyz"), Err(IdError::Malformed));
        assert_eq!(parse("001D000000IqhSLAAA"), Err(IdError::Malformed));
        assert_eq!(parse("001D000000Iqh-L"), Err(IdError::Malformed));
        assert_eq!(parse(""), Err(IdError::Malformed));
        assert_eq!(parse("001D000000IqhSLiaz"), Ok("001D000000IqhSLIAZ".into()));
    }
}
