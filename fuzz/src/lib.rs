//! Independent readings of what sfgate writes, for the fuzz targets to check it against: a SOQL
//! lexer that splits a query into its structure and its string literals, and a SOSL term reader.

/// A query split into its structure (every string literal replaced by `?`) and the decoded
/// values of its literals, as Salesforce's lexer reads them; `None` when a literal never ends.
pub fn split_soql(soql: &str) -> Option<(String, Vec<String>)> {
    let mut skeleton = String::with_capacity(soql.len());
    let mut values = Vec::new();
    let mut characters = soql.chars();
    while let Some(character) = characters.next() {
        if character != '\'' {
            skeleton.push(character);
            continue;
        }
        let mut value = String::new();
        loop {
            match characters.next()? {
                '\'' => break,
                '\\' => value.push(match characters.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    other => other,
                }),
                other => value.push(other),
            }
        }
        skeleton.push('?');
        values.push(value);
    }
    Some((skeleton, values))
}

/// The decoded term of `FIND {term} …` and what follows its closing brace, as SOSL reads it.
pub fn split_sosl(sosl: &str) -> Option<(String, &str)> {
    let rest = sosl.strip_prefix("FIND {")?;
    let mut term = String::new();
    let mut characters = rest.char_indices();
    while let Some((index, character)) = characters.next() {
        match character {
            '\\' => term.push(characters.next()?.1),
            '}' => return Some((term, &rest[index + 1..])),
            other => term.push(other),
        }
    }
    None
}

/// Any SOQL value: a text, a boolean, a number (NaN and infinities too) or null.
pub fn soql_value(
    u: &mut arbitrary::Unstructured<'_>,
) -> arbitrary::Result<sfgate::salesforce::soql::SoqlValue> {
    use sfgate::salesforce::soql::SoqlValue;
    Ok(match u.int_in_range(0..=3)? {
        0 => SoqlValue::Text(u.arbitrary()?),
        1 => SoqlValue::Bool(u.arbitrary()?),
        2 => SoqlValue::Number(u.arbitrary()?),
        _ => SoqlValue::Null,
    })
}
