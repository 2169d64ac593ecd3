//! Proto names from Salesforce API names: `Hootsuite_Contact_Persona__c` is the message
//! `HootsuiteContactPersona`, its field `Social_Network__c` is `social_network`, `LastModifiedDate`
//! is `last_modified_date`.

/// The words of an API name, without its `__c`/`__s` suffix: underscores and case changes
/// separate words (`SLAViolation__c` is `SLA`, `Violation`; `Address2` stays one word).
pub fn words(api_name: &str) -> Vec<String> {
    let stem = ["__c", "__s"]
        .iter()
        .find_map(|suffix| api_name.strip_suffix(suffix))
        .unwrap_or(api_name);
    let mut words = Vec::new();
    for part in stem.split('_').filter(|part| !part.is_empty()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (index, &letter) in chars.iter().enumerate() {
            let previous = index.checked_sub(1).map(|before| chars[before]);
            let next = chars.get(index + 1);
            let starts_word = letter.is_ascii_uppercase()
                && match previous {
                    None => false,
                    Some(previous)
                        if previous.is_ascii_lowercase() || previous.is_ascii_digit() =>
                    {
                        true
                    }
                    Some(previous) => {
                        previous.is_ascii_uppercase() && next.is_some_and(char::is_ascii_lowercase)
                    }
                };
            if starts_word && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word.push(letter);
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

/// `lower_snake_case` of the words.
pub fn snake_case(words: &[String]) -> String {
    words
        .iter()
        .map(|word| word.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// `PascalCase` of the words (`SLA` becomes `Sla`).
pub fn pascal_case(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut letters = lower.chars();
            match letters.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + letters.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The English plural of a noun in `PascalCase` or `snake_case` (`Persona` → `Personas`,
/// `Opportunity` → `Opportunities`, `Address` → `Addresses`).
pub fn plural(noun: &str) -> String {
    let lower = noun.to_ascii_lowercase();
    let ends_in_consonant_y = lower.ends_with('y')
        && !lower
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|before| "aeiou".contains(before));
    if ends_in_consonant_y {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|ending| lower.ends_with(ending))
    {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

/// Whether `package` is a proto package of lower-case identifiers ending in a version
/// (`acme.v1`, `acme.crm.v2beta1`), as `buf lint` wants it.
pub fn is_versioned_package(package: &str) -> bool {
    let parts: Vec<&str> = package.split('.').collect();
    let identifier = |part: &&str| {
        part.chars()
            .next()
            .is_some_and(|first| first.is_ascii_lowercase())
            && part.chars().all(|letter| {
                letter.is_ascii_lowercase() || letter.is_ascii_digit() || letter == '_'
            })
    };
    let version = parts.last().is_some_and(|last| {
        last.strip_prefix('v').is_some_and(|rest| {
            rest.starts_with(|first: char| first.is_ascii_digit() && first != '0')
                && rest.chars().all(|letter| letter.is_ascii_alphanumeric())
        })
    });
    parts.len() >= 2 && parts.iter().all(identifier) && version
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(api_name: &str) -> (String, String) {
        let words = words(api_name);
        (snake_case(&words), pascal_case(&words))
    }

    #[test]
    fn api_names_become_proto_names() {
        let cases = [
            (
                "Hootsuite_Contact_Persona__c",
                "hootsuite_contact_persona",
                "HootsuiteContactPersona",
            ),
            ("LastModifiedDate", "last_modified_date", "LastModifiedDate"),
            ("SLAViolation__c", "sla_violation", "SlaViolation"),
            ("IsVIP__c", "is_vip", "IsVip"),
            ("VIP__c", "vip", "Vip"),
            ("Address2__c", "address2", "Address2"),
            ("ns__Widget__c", "ns_widget", "NsWidget"),
            (
                "Location__Latitude__s",
                "location_latitude",
                "LocationLatitude",
            ),
            ("Id", "id", "Id"),
            ("CaseNumber", "case_number", "CaseNumber"),
        ];
        for (api_name, snake, pascal) in cases {
            assert_eq!(
                names(api_name),
                (snake.to_owned(), pascal.to_owned()),
                "{api_name}"
            );
        }
    }

    #[test]
    fn plurals_follow_english_spelling() {
        for (noun, expected) in [
            ("HootsuiteContactPersona", "HootsuiteContactPersonas"),
            ("Opportunity", "Opportunities"),
            ("Survey", "Surveys"),
            ("Address", "Addresses"),
            ("Box", "Boxes"),
            ("Branch", "Branches"),
            ("case", "cases"),
        ] {
            assert_eq!(plural(noun), expected);
        }
    }

    #[test]
    fn packages_must_be_versioned_lower_case() {
        for good in ["acme.v1", "acme.crm.v2beta1", "globex_corp.v3"] {
            assert!(is_versioned_package(good), "{good}");
        }
        for bad in [
            "acme",
            "Acme.v1",
            "acme.v0",
            "acme.latest",
            "acme..v1",
            "acme.v1-beta",
            "",
        ] {
            assert!(!is_versioned_package(bad), "{bad}");
        }
    }
}
