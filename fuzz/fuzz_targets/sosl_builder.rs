//! A phone search for any term: the term comes back exactly from between the braces, and
//! nothing of it reaches the rest of the statement.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfgate::salesforce::sosl::PhoneSearch;
use sfgate_fuzz::split_sosl;

fuzz_target!(|input: (&str, Vec<String>)| {
    let (term, names) = input;
    let mut search = PhoneSearch::new(term);
    for name in &names {
        match search.clone().returning(name, ["Id", "Name"]) {
            Ok(next) => search = next,
            Err(_) => return,
        }
    }
    let sosl = search.to_sosl();
    let (decoded, rest) = split_sosl(&sosl).expect("the term's braces close");
    assert_eq!(decoded, term);
    let returning: Vec<String> = names
        .iter()
        .map(|name| format!("{name}(Id, Name)"))
        .collect();
    assert_eq!(
        rest,
        format!(" IN PHONE FIELDS RETURNING {}", returning.join(", "))
    );
});
