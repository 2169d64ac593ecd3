//! The one place SOQL text is produced. Identifiers are validated, values pass through
//! [`escape_literal`]; nothing else is ever spliced into a query.

use std::fmt::Write as _;

/// A SOQL value, written as a literal of the right kind.
#[derive(Debug, Clone, PartialEq)]
pub enum SoqlValue {
    /// A string literal, quoted and escaped.
    Text(String),
    /// `true` / `false`.
    Bool(bool),
    /// A number literal.
    Number(f64),
    /// `null`.
    Null,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=` (case-insensitive for strings in Salesforce).
    Equals,
    /// `!=`.
    NotEquals,
    /// `>`.
    GreaterThan,
    /// `<`.
    LessThan,
}

impl Comparison {
    fn operator(self) -> &'static str {
        match self {
            Self::Equals => "=",
            Self::NotEquals => "!=",
            Self::GreaterThan => ">",
            Self::LessThan => "<",
        }
    }
}

/// A `WHERE` condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `field <op> value`.
    Compare {
        /// The field (validated identifier path).
        field: String,
        /// The operator.
        comparison: Comparison,
        /// The value.
        value: SoqlValue,
    },
    /// `field LIKE '<escaped text>%'`: the field starts with the text, taken literally.
    StartsWith {
        /// The field.
        field: String,
        /// The literal prefix; `%` and `_` in it are matched literally.
        prefix: String,
    },
    /// `field IN (values)`.
    In {
        /// The field.
        field: String,
        /// The values; must not be empty.
        values: Vec<SoqlValue>,
    },
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
}

/// A name that is not a valid SOQL identifier or path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid Salesforce API name")]
pub struct InvalidIdentifier(pub String);

/// Sort direction of an `ORDER BY` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `ASC`.
    Ascending,
    /// `DESC`.
    Descending,
}

/// A `SELECT` statement under construction.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectQuery {
    object: String,
    fields: Vec<String>,
    conditions: Vec<Condition>,
    order_by: Vec<(String, Direction)>,
    limit: Option<u32>,
}

impl SelectQuery {
    /// Starts `SELECT <fields> FROM <object>`; every name must be an API name or a dotted path.
    pub fn new<'a>(
        object: &str,
        fields: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, InvalidIdentifier> {
        let object = checked_identifier(object)?;
        let fields = fields
            .into_iter()
            .map(checked_identifier)
            .collect::<Result<Vec<_>, _>>()?;
        if fields.is_empty() {
            return Err(InvalidIdentifier(String::new()));
        }
        Ok(Self {
            object,
            fields,
            conditions: Vec::new(),
            order_by: Vec::new(),
            limit: None,
        })
    }

    /// Adds a condition, ANDed with the others.
    pub fn filter(mut self, condition: Condition) -> Result<Self, InvalidIdentifier> {
        check_condition(&condition)?;
        self.conditions.push(condition);
        Ok(self)
    }

    /// Adds an `ORDER BY` item.
    pub fn order_by(
        mut self,
        field: &str,
        direction: Direction,
    ) -> Result<Self, InvalidIdentifier> {
        self.order_by.push((checked_identifier(field)?, direction));
        Ok(self)
    }

    /// Sets `LIMIT`.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The SOQL text.
    pub fn to_soql(&self) -> String {
        let mut soql = format!("SELECT {} FROM {}", self.fields.join(", "), self.object);
        if !self.conditions.is_empty() {
            soql.push_str(" WHERE ");
            write_conjunction(&mut soql, &self.conditions, " AND ");
        }
        if !self.order_by.is_empty() {
            let items: Vec<String> = self
                .order_by
                .iter()
                .map(|(field, direction)| match direction {
                    Direction::Ascending => format!("{field} ASC"),
                    Direction::Descending => format!("{field} DESC"),
                })
                .collect();
            let _ = write!(soql, " ORDER BY {}", items.join(", "));
        }
        if let Some(limit) = self.limit {
            let _ = write!(soql, " LIMIT {limit}");
        }
        soql
    }
}

/// A value bound to a `:name` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SoqlParam {
    /// One value.
    Value(SoqlValue),
    /// A list, for `IN :names`: written `('a', 'b')`.
    List(Vec<SoqlValue>),
}

/// SOQL text whose values were all written by [`bind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundSoql(String);

impl BoundSoql {
    /// The SOQL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a query's placeholders could not be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// `:name` appears in the query but not in the parameters.
    #[error("the query uses :{0} but params has no {0}")]
    Missing(String),
    /// A parameter the query does not use (a typo in the query or in the parameters).
    #[error("params.{0} is not used by the query")]
    Unused(String),
    /// An empty list, which SOQL cannot express.
    #[error("params.{0} is an empty list")]
    EmptyList(String),
    /// A string literal in the query does not end.
    #[error("the query has an unterminated string literal")]
    UnterminatedLiteral,
}

/// Replaces every `:name` placeholder outside string literals with the escaped literal of
/// `params[name]`. Values never become SOQL text any other way.
pub fn bind(
    template: &str,
    params: &std::collections::BTreeMap<String, SoqlParam>,
) -> Result<BoundSoql, BindError> {
    let mut soql = String::with_capacity(template.len());
    let mut used = std::collections::BTreeSet::new();
    let mut characters = template.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\'' => {
                soql.push(character);
                loop {
                    let Some(inner) = characters.next() else {
                        return Err(BindError::UnterminatedLiteral);
                    };
                    soql.push(inner);
                    match inner {
                        '\\' => soql.push(characters.next().ok_or(BindError::UnterminatedLiteral)?),
                        '\'' => break,
                        _ => {}
                    }
                }
            }
            ':' if characters
                .peek()
                .is_some_and(|next| next.is_ascii_alphabetic() || *next == '_') =>
            {
                let mut name = String::new();
                while let Some(next) =
                    characters.next_if(|next| next.is_ascii_alphanumeric() || *next == '_')
                {
                    name.push(next);
                }
                match params.get(&name) {
                    Some(SoqlParam::Value(value)) => write_value(&mut soql, value),
                    Some(SoqlParam::List(values)) if values.is_empty() => {
                        return Err(BindError::EmptyList(name));
                    }
                    Some(SoqlParam::List(values)) => {
                        soql.push('(');
                        for (index, value) in values.iter().enumerate() {
                            if index > 0 {
                                soql.push_str(", ");
                            }
                            write_value(&mut soql, value);
                        }
                        soql.push(')');
                    }
                    None => return Err(BindError::Missing(name)),
                }
                used.insert(name);
            }
            other => soql.push(other),
        }
    }
    if let Some(unused) = params.keys().find(|name| !used.contains(*name)) {
        return Err(BindError::Unused(unused.clone()));
    }
    Ok(BoundSoql(soql))
}

/// Quotes and escapes a string so that it is exactly one SOQL string literal with this value.
///
/// Escapes backslash, both quotes and the control characters Salesforce names (`\n \r \t \b \f`).
pub fn escape_literal(value: &str) -> String {
    escape_into_literal(value, false)
}

/// Like [`escape_literal`], but also escapes the `LIKE` wildcards `%` and `_` so that they match
/// themselves.
pub fn escape_like_literal(value: &str) -> String {
    escape_into_literal(value, true)
}

fn escape_into_literal(value: &str, escape_wildcards: bool) -> String {
    let mut literal = String::with_capacity(value.len() + 2);
    literal.push('\'');
    push_escaped(&mut literal, value, escape_wildcards);
    literal.push('\'');
    literal
}

fn push_escaped(out: &mut String, value: &str, escape_wildcards: bool) {
    for character in value.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '%' | '_' if escape_wildcards => {
                out.push('\\');
                out.push(character);
            }
            other => out.push(other),
        }
    }
}

/// Whether a name is a valid API name (`Name`, `Foo__c`) or a relationship path (`Account.Name`),
/// each step at most [`super::limits::MAX_NAME_LENGTH`] characters.
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.len() <= super::limits::MAX_NAME_LENGTH && {
                let mut characters = part.chars();
                characters
                    .next()
                    .is_some_and(|first| first.is_ascii_alphabetic())
                    && characters.all(|rest| rest.is_ascii_alphanumeric() || rest == '_')
            }
        })
}

fn checked_identifier(name: &str) -> Result<String, InvalidIdentifier> {
    if is_identifier(name) {
        Ok(name.to_owned())
    } else {
        Err(InvalidIdentifier(name.to_owned()))
    }
}

fn check_condition(condition: &Condition) -> Result<(), InvalidIdentifier> {
    match condition {
        Condition::Compare { field, .. } | Condition::StartsWith { field, .. } => {
            checked_identifier(field).map(drop)
        }
        Condition::In { field, values } => {
            if values.is_empty() {
                return Err(InvalidIdentifier(format!("{field} IN ()")));
            }
            checked_identifier(field).map(drop)
        }
        Condition::All(conditions) | Condition::Any(conditions) => {
            conditions.iter().try_for_each(check_condition)
        }
    }
}

fn write_conjunction(soql: &mut String, conditions: &[Condition], joiner: &str) {
    for (index, condition) in conditions.iter().enumerate() {
        if index > 0 {
            soql.push_str(joiner);
        }
        write_condition(soql, condition);
    }
}

fn write_condition(soql: &mut String, condition: &Condition) {
    match condition {
        Condition::Compare {
            field,
            comparison,
            value,
        } => {
            let _ = write!(soql, "{field} {} ", comparison.operator());
            write_value(soql, value);
        }
        Condition::StartsWith { field, prefix } => {
            let _ = write!(soql, "{field} LIKE '");
            push_escaped(soql, prefix, true);
            soql.push_str("%'");
        }
        Condition::In { field, values } => {
            let _ = write!(soql, "{field} IN (");
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    soql.push_str(", ");
                }
                write_value(soql, value);
            }
            soql.push(')');
        }
        Condition::All(conditions) => {
            soql.push('(');
            write_conjunction(soql, conditions, " AND ");
            soql.push(')');
        }
        Condition::Any(conditions) => {
            soql.push('(');
            write_conjunction(soql, conditions, " OR ");
            soql.push(')');
        }
    }
}

fn write_value(soql: &mut String, value: &SoqlValue) {
    match value {
        SoqlValue::Text(text) => soql.push_str(&escape_literal(text)),
        SoqlValue::Bool(flag) => soql.push_str(if *flag { "true" } else { "false" }),
        SoqlValue::Number(number) if number.is_finite() => {
            let _ = write!(soql, "{number}");
        }
        SoqlValue::Number(_) | SoqlValue::Null => soql.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An independent reading of one SOQL string literal at the start of `text`, as Salesforce's
    /// lexer reads it: returns the decoded value and the number of bytes the literal spans.
    fn read_literal(text: &str, like: bool) -> Option<(String, usize)> {
        let mut characters = text.char_indices();
        if characters.next()?.1 != '\'' {
            return None;
        }
        let mut value = String::new();
        while let Some((index, character)) = characters.next() {
            match character {
                '\'' => return Some((value, index + 1)),
                '\\' => {
                    let (_, escaped) = characters.next()?;
                    value.push(match escaped {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        '\\' | '\'' | '"' => escaped,
                        '%' | '_' if like => escaped,
                        _ => return None,
                    });
                }
                '%' | '_' if like => return None, // an unescaped wildcard would widen the match
                other => value.push(other),
            }
        }
        None
    }

    proptest! {
        #[test]
        fn no_value_breaks_out_of_its_literal(value in any::<String>()) {
            let literal = escape_literal(&value);
            let (decoded, length) = read_literal(&literal, false).expect("one literal");
            prop_assert_eq!(length, literal.len());
            prop_assert_eq!(decoded, value);
        }

        #[test]
        fn like_literals_match_only_themselves(value in any::<String>()) {
            let literal = escape_like_literal(&value);
            let (decoded, length) = read_literal(&literal, true).expect("one literal");
            prop_assert_eq!(length, literal.len());
            prop_assert_eq!(decoded, value);
        }

        #[test]
        fn hostile_values_stay_inside_the_where_clause(value in r"[\\'\x22\n\r\t\x08\x0c%_ a-zA-Z()=]{0,40}") {
            let soql = SelectQuery::new("Lead", ["Id"]).unwrap()
                .filter(Condition::Compare { field: "Email".into(), comparison: Comparison::Equals, value: SoqlValue::Text(value.clone()) }).unwrap()
                .limit(5)
                .to_soql();
            let literal_start = "SELECT Id FROM Lead WHERE Email = ".len();
            let (decoded, length) = read_literal(&soql[literal_start..], false).expect("one literal");
            prop_assert_eq!(decoded, value);
            prop_assert_eq!(&soql[literal_start + length..], " LIMIT 5");
        }
    }

    fn params(pairs: &[(&str, SoqlParam)]) -> std::collections::BTreeMap<String, SoqlParam> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect()
    }

    #[test]
    fn binds_placeholders_outside_literals_only() {
        let bound = bind(
            "SELECT Id FROM Case WHERE Subject = :subject AND Status IN :statuses AND Description != ':subject' AND CreatedDate = LAST_N_DAYS:30",
            &params(&[
                ("subject", SoqlParam::Value(SoqlValue::Text("it's".into()))),
                ("statuses", SoqlParam::List(vec![SoqlValue::Text("New".into()), SoqlValue::Text("Working".into())])),
            ]),
        )
        .unwrap();
        assert_eq!(
            bound.as_str(),
            r"SELECT Id FROM Case WHERE Subject = 'it\'s' AND Status IN ('New', 'Working') AND Description != ':subject' AND CreatedDate = LAST_N_DAYS:30"
        );
        assert_eq!(
            bind("SELECT Id FROM Case WHERE Id = :id", &params(&[])),
            Err(BindError::Missing("id".into()))
        );
        assert_eq!(
            bind(
                "SELECT Id FROM Case",
                &params(&[("id", SoqlParam::Value(SoqlValue::Null))])
            ),
            Err(BindError::Unused("id".into()))
        );
        assert_eq!(
            bind("SELECT Id FROM Case WHERE Name = 'open", &params(&[])),
            Err(BindError::UnterminatedLiteral)
        );
    }

    proptest! {
        #[test]
        fn a_bound_value_stays_inside_its_literal(value in any::<String>()) {
            let bound = bind("SELECT Id FROM Lead WHERE Email = :email LIMIT 1", &params(&[("email", SoqlParam::Value(SoqlValue::Text(value.clone())))])).unwrap();
            let text = bound.as_str();
            let start = "SELECT Id FROM Lead WHERE Email = ".len();
            let (decoded, length) = read_literal(&text[start..], false).expect("one literal");
            prop_assert_eq!(decoded, value);
            prop_assert_eq!(&text[start + length..], " LIMIT 1");
        }
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape_literal("a\\b'c\"d\ne\rf\tg\u{8}h\u{c}i%_"),
            r#"'a\\b\'c\"d\ne\rf\tg\bh\fi%_'"#
        );
        assert_eq!(escape_like_literal("50%_off"), r"'50\%\_off'");
    }

    #[test]
    fn builds_a_full_select() {
        let soql = SelectQuery::new("Case", ["Id", "CaseNumber", "Account.Name"])
            .unwrap()
            .filter(Condition::Compare {
                field: "IsClosed".into(),
                comparison: Comparison::Equals,
                value: SoqlValue::Bool(false),
            })
            .unwrap()
            .filter(Condition::Any(vec![
                Condition::In {
                    field: "ContactId".into(),
                    values: vec![
                        SoqlValue::Text("003A".into()),
                        SoqlValue::Text("003B".into()),
                    ],
                },
                Condition::StartsWith {
                    field: "Subject".into(),
                    prefix: "100%".into(),
                },
            ]))
            .unwrap()
            .order_by("Id", Direction::Ascending)
            .unwrap()
            .limit(51)
            .to_soql();
        assert_eq!(
            soql,
            r"SELECT Id, CaseNumber, Account.Name FROM Case WHERE IsClosed = false AND (ContactId IN ('003A', '003B') OR Subject LIKE '100\%%') ORDER BY Id ASC LIMIT 51"
        );
    }

    #[test]
    fn rejects_names_that_are_not_identifiers() {
        for bad in [
            "",
            "Id, Name",
            "Name--",
            "1Name",
            "Account..Name",
            "Name FROM User",
        ] {
            assert!(SelectQuery::new("Lead", [bad]).is_err(), "{bad:?} accepted");
        }
        assert!(SelectQuery::new("Lead; DROP", ["Id"]).is_err());
        assert!(
            SelectQuery::new("Lead", ["Id"])
                .unwrap()
                .filter(Condition::In {
                    field: "Id".into(),
                    values: vec![]
                })
                .is_err()
        );
    }
}
