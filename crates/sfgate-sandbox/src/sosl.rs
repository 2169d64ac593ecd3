//! SOSL: `FIND {term} [IN ALL|NAME|EMAIL|PHONE FIELDS] [RETURNING Obj[(fields
//! [WHERE ..] [ORDER BY ..] [LIMIT n])], ...] [LIMIT n]`.
//!
//! Each RETURNING entry becomes a SOQL query; a record is found when it passes
//! that query and the term matches one of its searched fields. Phone fields
//! match on digits only, so `{4155550142}` finds `(415) 555-0142` and
//! `+1 415 555 0142`.

use super::error::{ApiError, ApiResult};
use super::schema::{self, FieldDef, FieldType};
use super::soql::{self, PatChar, Query, Select};
use super::store::{Record, Store};
use super::values::{self, Json};

/// Which fields the term is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    All,
    Name,
    Email,
    Phone,
}

impl Scope {
    fn covers(self, f: &FieldDef) -> bool {
        match self {
            Self::All => f.ty.is_text(),
            Self::Name => f.name_field,
            Self::Email => f.ty == FieldType::Email,
            Self::Phone => f.ty == FieldType::Phone,
        }
    }
}

/// A parsed search.
#[derive(Debug)]
struct Search {
    term: String,
    scope: Scope,
    returning: Vec<Query>,
    limit: Option<usize>,
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "MALFORMED_SEARCH", message)
}

/// Runs a SOSL search and renders the found records.
pub(crate) fn search(store: &Store, q: &str, version: &str) -> ApiResult<Vec<Json>> {
    let s = parse(q)?;
    let matcher = Matcher::new(&s.term, s.scope)?;
    let mut out = Vec::new();
    for query in &s.returning {
        let Select::Fields(paths) = &query.select else {
            continue;
        };
        let rows = soql::select_rows(query, store, false, |r| matcher.matches(r));
        out.extend(
            rows.iter()
                .map(|r| soql::render_row(paths, r, store, version)),
        );
    }
    out.truncate(s.limit.unwrap_or(usize::MAX));
    Ok(out)
}

fn parse(q: &str) -> ApiResult<Search> {
    let q = q.trim();
    let rest =
        strip_keyword(q, "FIND").ok_or_else(|| malformed("unexpected token: FIND expected"))?;
    let (term, mut rest) = term_of(rest.trim_start())?;
    let mut scope = Scope::All;
    if let Some(after) = strip_keyword(rest, "IN") {
        let (word, after) = split_word(after);
        scope = match word.to_ascii_uppercase().as_str() {
            "ALL" | "SIDEBAR" => Scope::All,
            "NAME" => Scope::Name,
            "EMAIL" => Scope::Email,
            "PHONE" => Scope::Phone,
            _ => return Err(malformed(format!("unexpected token: {word}"))),
        };
        rest = strip_keyword(after, "FIELDS")
            .ok_or_else(|| malformed("unexpected token: FIELDS expected"))?;
    }
    let mut returning = Vec::new();
    if let Some(after) = strip_keyword(rest, "RETURNING") {
        let (specs, after) = returning_list(after);
        for spec in specs {
            returning.push(spec_query(&spec)?);
        }
        rest = after;
    } else {
        for obj in schema::OBJECTS.iter().filter(|o| o.searchable) {
            returning.push(spec_query(obj.name)?);
        }
    }
    let mut limit = None;
    if let Some(after) = strip_keyword(rest, "LIMIT") {
        let (n, after) = split_word(after);
        limit = Some(
            n.parse()
                .map_err(|_| malformed(format!("unexpected token: {n}")))?,
        );
        rest = after;
    }
    if !rest.trim().is_empty() {
        return Err(malformed(format!(
            "unexpected token: {}",
            split_word(rest).0
        )));
    }
    Ok(Search {
        term,
        scope,
        returning,
        limit,
    })
}

/// Strips a leading keyword (case-insensitive, whole word).
fn strip_keyword<'a>(s: &'a str, kw: &str) -> Option<&'a str> {
    let s = s.trim_start();
    let head = s.get(..kw.len())?;
    let rest = &s[kw.len()..];
    let boundary = rest
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    (head.eq_ignore_ascii_case(kw) && boundary).then_some(rest)
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s
        .find(|c: char| c.is_whitespace() || c == ',' || c == '(')
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Reads `{term}` or `'term'` (with backslash escapes).
fn term_of(s: &str) -> ApiResult<(String, &str)> {
    let close = match s.chars().next() {
        Some('{') => '}',
        Some('\'') => '\'',
        _ => {
            return Err(malformed(
                "No search term found. The search term must be enclosed in braces.",
            ));
        }
    };
    let mut term = String::new();
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => {
                term.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            _ if c == close => return Ok((term, &s[i + c.len_utf8()..])),
            _ => term.push(c),
        }
    }
    Err(malformed("unterminated search term"))
}

/// Splits `A(x, y WHERE ..), B, C(z)` at top-level commas, stopping at a
/// top-level `LIMIT` (which belongs to the whole search).
fn returning_list(s: &str) -> (Vec<String>, &str) {
    let mut specs = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quoted => {
                chars.next();
            }
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                specs.push(s[start..i].trim().to_string());
                start = i + 1;
            }
            _ if !quoted && depth == 0 && strip_keyword(&s[i..], "LIMIT").is_some() => {
                let before = s[..i].chars().last().is_none_or(char::is_whitespace);
                if before {
                    specs.push(s[start..i].trim().to_string());
                    return (
                        specs.into_iter().filter(|x| !x.is_empty()).collect(),
                        &s[i..],
                    );
                }
            }
            _ => {}
        }
    }
    specs.push(s[start..].trim().to_string());
    (specs.into_iter().filter(|x| !x.is_empty()).collect(), "")
}

/// `Contact(Id, Name WHERE ..)` -> the SOQL query it stands for.
fn spec_query(spec: &str) -> ApiResult<Query> {
    let (name, inner) = match spec.split_once('(') {
        Some((name, inner)) => (
            name.trim(),
            inner.trim_end().strip_suffix(')').unwrap_or(inner).trim(),
        ),
        None => (spec.trim(), ""),
    };
    let split = ["WHERE", "ORDER", "LIMIT", "OFFSET"]
        .iter()
        .filter_map(|kw| find_keyword(inner, kw))
        .min()
        .unwrap_or(inner.len());
    let fields = inner[..split].trim();
    let fields = if fields.is_empty() { "Id" } else { fields };
    let soql = format!("SELECT {fields} FROM {name} {}", &inner[split..]);
    soql::parse(&soql).map_err(|e| e.into_api(&soql))
}

/// Byte offset of a whole-word keyword outside quotes.
fn find_keyword(s: &str, kw: &str) -> Option<usize> {
    let mut quoted = false;
    let mut prev_word = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => quoted = false,
                _ => {}
            }
            continue;
        }
        if c == '\'' {
            quoted = true;
        } else if !prev_word && strip_keyword(&s[i..], kw).is_some() {
            return Some(i);
        }
        prev_word = c.is_alphanumeric() || c == '_';
    }
    None
}

/// Decides whether a record matches the search term.
struct Matcher {
    scope: Scope,
    /// Lower-cased words; every one must match some searched field.
    words: Vec<String>,
    /// Digits of the whole term, for phone fields (None when too few digits).
    digits: Option<String>,
}

impl Matcher {
    fn new(term: &str, scope: Scope) -> ApiResult<Self> {
        let meaningful = term
            .chars()
            .filter(|c| !matches!(c, '*' | '?' | '"'))
            .count();
        if meaningful < 2 {
            return Err(ApiError::new(
                400,
                "INVALID_SEARCH",
                "search term must be longer than one character",
            ));
        }
        let words = term
            .split_whitespace()
            .filter(|w| !matches!(w.to_ascii_uppercase().as_str(), "AND" | "OR"))
            .map(|w| w.trim_matches('"').to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        let digits = Some(phone_digits(term)).filter(|d| d.len() >= 4);
        Ok(Self {
            scope,
            words,
            digits,
        })
    }

    fn matches(&self, rec: &Record) -> bool {
        let fields: Vec<(&FieldDef, String)> = rec
            .object
            .fields()
            .filter(|f| self.scope.covers(f))
            .filter_map(|f| Some((f, values::as_text(rec.get(f.name))?)))
            .collect();
        let phone_hit = self.digits.as_ref().is_some_and(|d| {
            fields
                .iter()
                .any(|(f, v)| f.ty == FieldType::Phone && phone_digits(v).contains(d.as_str()))
        });
        if phone_hit || self.scope == Scope::Phone {
            return phone_hit;
        }
        self.words.iter().all(|w| {
            fields
                .iter()
                .any(|(_, v)| word_matches(w, &v.to_lowercase()))
        })
    }
}

/// Digits of a phone number, without a leading North American `1`.
fn phone_digits(s: &str) -> String {
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    match d.strip_prefix('1') {
        Some(rest) if d.len() == 11 => rest.to_string(),
        _ => d,
    }
}

/// A term word against a lower-cased value: `*` any run, `?` one char;
/// a plain word matches as a substring.
fn word_matches(word: &str, value: &str) -> bool {
    if !word.contains(['*', '?']) {
        return value.contains(word);
    }
    value
        .split(|c: char| !(c.is_alphanumeric() || c == '@' || c == '.' || c == '-'))
        .any(|token| glob(word, token))
}

/// SOSL wildcards (`*`, `?`) against a lower-cased token, via SOQL's LIKE matcher.
fn glob(pattern: &str, token: &str) -> bool {
    let pattern: Vec<PatChar> = pattern
        .chars()
        .map(|c| match c {
            '*' => PatChar::Any,
            '?' => PatChar::One,
            c => PatChar::Lit(c),
        })
        .collect();
    soql::like(&pattern, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clauses() {
        let s = parse("FIND {415\\} 555} IN PHONE FIELDS RETURNING Contact(Id, Name WHERE LastName != null ORDER BY Name LIMIT 5), Lead LIMIT 20").expect("parse");
        assert_eq!(s.term, "415} 555");
        assert_eq!(s.scope, Scope::Phone);
        assert_eq!(s.returning.len(), 2);
        assert_eq!(s.returning[0].limit, Some(5));
        assert_eq!(s.limit, Some(20));
        let s = parse("find 'acme'").expect("default returning");
        assert!(s.returning.len() >= 5);
        assert!(parse("SELECT Id FROM Lead").is_err());
        assert!(parse("FIND {x} RETURNING Foo").is_err());
    }

    #[test]
    fn phone_matching() {
        assert_eq!(phone_digits("+1 (415) 555-0142"), "4155550142");
        assert_eq!(phone_digits("415.555.0100"), "4155550100");
        assert!(glob("ac*e", "acme"));
        assert!(!glob("*a*a*a*a*a*a*a*a*a*a*a*b", &"a".repeat(200)));
        assert!(word_matches("acm?", "the acme corp"));
        assert!(!word_matches("zz*", "the acme corp"));
        assert!(Matcher::new("a", Scope::All).is_err());
    }
}
