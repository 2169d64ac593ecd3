//! Any text escaped as a SOQL literal is exactly one literal with that value (LIKE's wildcards
//! escaped too in the LIKE form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfgate::salesforce::soql::{escape_like_literal, escape_literal};
use sfgate_fuzz::split_soql;

fuzz_target!(|text: &str| {
    let (skeleton, values) = split_soql(&escape_literal(text)).expect("the literal ends");
    assert_eq!(skeleton, "?");
    assert_eq!(values, [text]);

    let like = escape_like_literal(text);
    let (skeleton, values) = split_soql(&like).expect("the LIKE literal ends");
    assert_eq!(skeleton, "?");
    assert_eq!(values, [text]);
    // Every wildcard of the text is escaped, so it matches itself.
    let unescaped_wildcards = like
        .char_indices()
        .filter(|(index, character)| matches!(character, '%' | '_') && !is_escaped(&like, *index))
        .count();
    assert_eq!(unescaped_wildcards, 0, "{like}");
});

/// Whether the character at `index` is preceded by an odd run of backslashes.
fn is_escaped(text: &str, index: usize) -> bool {
    text[..index]
        .chars()
        .rev()
        .take_while(|c| *c == '\\')
        .count()
        % 2
        == 1
}
