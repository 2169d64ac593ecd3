//! The one place SOSL text is produced: a phone search whose term passes through the SOSL
//! escaper, and whose objects and fields are validated identifiers.

use super::soql::{InvalidIdentifier, is_identifier};

/// Characters SOSL reserves in a search term; each is escaped with a backslash.
const RESERVED: &[char] = &[
    '?', '&', '|', '!', '{', '}', '[', ']', '(', ')', '^', '~', '*', ':', '\\', '"', '\'', '+', '-',
];

/// Escapes a search term so that every character is searched for literally.
pub fn escape_term(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len());
    for character in term.chars() {
        if RESERVED.contains(&character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// `FIND {term} IN PHONE FIELDS RETURNING Object(fields), …`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneSearch {
    term: String,
    returning: Vec<(String, Vec<String>)>,
}

impl PhoneSearch {
    /// A search for `term` in phone fields.
    pub fn new(term: &str) -> Self {
        Self {
            term: term.to_owned(),
            returning: Vec::new(),
        }
    }

    /// Adds an object to return, with its fields.
    pub fn returning<'a>(
        mut self,
        object: &str,
        fields: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, InvalidIdentifier> {
        let check = |name: &str| {
            if is_identifier(name) {
                Ok(name.to_owned())
            } else {
                Err(InvalidIdentifier(name.to_owned()))
            }
        };
        let fields = fields
            .into_iter()
            .map(check)
            .collect::<Result<Vec<_>, _>>()?;
        self.returning.push((check(object)?, fields));
        Ok(self)
    }

    /// The SOSL text.
    pub fn to_sosl(&self) -> String {
        let returning: Vec<String> = self
            .returning
            .iter()
            .map(|(object, fields)| format!("{object}({})", fields.join(", ")))
            .collect();
        format!(
            "FIND {{{}}} IN PHONE FIELDS RETURNING {}",
            escape_term(&self.term),
            returning.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builds_a_phone_search() {
        let search = PhoneSearch::new("+14155550143")
            .returning("Account", ["Id", "Name"])
            .unwrap()
            .returning("Contact", ["Id", "Account.Name"])
            .unwrap();
        assert_eq!(
            search.to_sosl(),
            r"FIND {\+14155550143} IN PHONE FIELDS RETURNING Account(Id, Name), Contact(Id, Account.Name)"
        );
        assert!(
            PhoneSearch::new("1")
                .returning("Account) FROM", ["Id"])
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn no_term_can_close_the_braces_or_inject_operators(term in any::<String>()) {
            let escaped = escape_term(&term);
            // Reading back: every reserved character is preceded by a backslash.
            let mut characters = escaped.chars();
            let mut decoded = String::new();
            while let Some(character) = characters.next() {
                if character == '\\' {
                    let next = characters.next().expect("an escape is followed by a character");
                    prop_assert!(RESERVED.contains(&next));
                    decoded.push(next);
                } else {
                    prop_assert!(!RESERVED.contains(&character), "unescaped {character:?}");
                    decoded.push(character);
                }
            }
            prop_assert_eq!(decoded, term);
        }
    }
}
