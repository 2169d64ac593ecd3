//! SOQL: tokenizer, parser and evaluator for the subset the sandbox serves.
//!
//! `SELECT f1, Parent.f2 | COUNT() | COUNT(f) [alias] FROM Obj [alias] [WHERE cond]
//! [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n] [FOR VIEW|REFERENCE|UPDATE]`
//! with `=, !=, <>, <, <=, >, >=, LIKE, IN, NOT IN, AND, OR, NOT` and parentheses.

use std::cmp::Ordering;

use chrono::{Days, NaiveDate, Utc};
use serde_json::Value;

use super::error::ApiError;
use super::ids;
use super::schema::{self, FieldDef, FieldType, ObjectDef};
use super::store::{self, Record, Store};
use super::values::{self, Json};

/// A parse or resolution error, located in the query text when `pos` is known.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) pos: Option<usize>,
}

impl QueryError {
    fn malformed(message: impl Into<String>, pos: usize) -> Self {
        Self {
            code: "MALFORMED_QUERY",
            message: message.into(),
            pos: Some(pos),
        }
    }

    fn at(code: &'static str, message: impl Into<String>, pos: usize) -> Self {
        Self {
            code,
            message: message.into(),
            pos: Some(pos),
        }
    }

    /// The REST error, with Salesforce's `ERROR at Row:1:Column:N` framing.
    pub(crate) fn into_api(self, query: &str) -> ApiError {
        let message = match self.pos {
            Some(pos) => locate(query, pos, &self.message),
            None => self.message,
        };
        ApiError::new(400, self.code, message)
    }
}

/// Frames `message` with the query line and a caret under `pos`.
fn locate(query: &str, pos: usize, message: &str) -> String {
    let pos = pos.min(query.len());
    let before = query.get(..pos).unwrap_or(query);
    let row = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    let line = query[line_start..].lines().next().unwrap_or("");
    let caret = format!("{}^", " ".repeat(col - 1));
    format!("\n{line}\n{caret}\nERROR at Row:{row}:Column:{col}\n{message}")
}

// ---------------------------------------------------------------- tokenizer

/// One char of a string literal; `escaped` marks `\%` and `\_` in LIKE patterns.
type LitChar = (char, bool);

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(Vec<LitChar>),
    Num(String),
    Date(String),
    DateTime(String),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    pos: usize,
}

impl Token {
    /// The token as error messages quote it.
    fn shown(&self, src: &str) -> String {
        match &self.tok {
            Tok::Eof => "<EOF>".into(),
            Tok::Ident(s) | Tok::Num(s) | Tok::Date(s) | Tok::DateTime(s) => s.clone(),
            Tok::Str(chars) => format!("'{}'", chars.iter().map(|c| c.0).collect::<String>()),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Comma => ",".into(),
            Tok::Op(op) => (*op).into(),
        }
        .chars()
        .take(src.len().max(1))
        .collect()
    }
}

fn tokenize(src: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let next = chars.get(i + 1).map(|x| x.1);
        let single = |tok| Token { tok, pos };
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' => {
                out.push(single(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    _ => Tok::Comma,
                }));
                i += 1;
            }
            '=' => {
                out.push(single(Tok::Op("=")));
                i += 1;
            }
            '!' if next == Some('=') => {
                out.push(single(Tok::Op("!=")));
                i += 2;
            }
            '<' | '>' => {
                let (op, len) = match (c, next) {
                    ('<', Some('=')) => ("<=", 2),
                    ('<', Some('>')) => ("!=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', _) => ("<", 1),
                    _ => (">", 1),
                };
                out.push(single(Tok::Op(op)));
                i += len;
            }
            '\'' => {
                let (lit, end) = string_literal(src, &chars, i)?;
                out.push(single(Tok::Str(lit)));
                i = end;
            }
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let end = scan(&chars, i + 1, |c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-')
                });
                let text: String = chars[i..end].iter().map(|x| x.1).collect();
                out.push(single(classify_number(&text, pos)?));
                i = end;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut end = scan(&chars, i + 1, |c| {
                    c.is_alphanumeric() || c == '_' || c == '.'
                });
                if chars.get(end).map(|x| x.1) == Some(':')
                    && chars.get(end + 1).is_some_and(|x| x.1.is_ascii_digit())
                {
                    end = scan(&chars, end + 1, |c| c.is_ascii_digit());
                }
                let text: String = chars[i..end].iter().map(|x| x.1).collect();
                out.push(single(Tok::Ident(text)));
                i = end;
            }
            other => {
                return Err(QueryError::malformed(
                    format!("unexpected token: '{other}'"),
                    pos,
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

fn scan(chars: &[(usize, char)], mut i: usize, ok: impl Fn(char) -> bool) -> usize {
    while i < chars.len() && ok(chars[i].1) {
        i += 1;
    }
    i
}

/// Reads a quoted literal starting at `chars[start] == '\''`.
fn string_literal(
    src: &str,
    chars: &[(usize, char)],
    start: usize,
) -> Result<(Vec<LitChar>, usize), QueryError> {
    let mut out = Vec::new();
    let mut i = start + 1;
    while let Some(&(pos, c)) = chars.get(i) {
        match c {
            '\'' => return Ok((out, i + 1)),
            '\\' => {
                let Some(&(_, e)) = chars.get(i + 1) else {
                    break;
                };
                let lit = match e {
                    'n' => ('\n', false),
                    'r' => ('\r', false),
                    't' => ('\t', false),
                    'b' => ('\u{8}', false),
                    'f' => ('\u{c}', false),
                    '\\' | '\'' | '"' => (e, false),
                    '%' | '_' => (e, true),
                    _ => {
                        return Err(QueryError::malformed(
                            format!(
                                "Invalid string literal '\\{e}'. Illegal character sequence '\\{e}' in string literal."
                            ),
                            pos,
                        ));
                    }
                };
                out.push(lit);
                i += 2;
            }
            _ => {
                out.push((c, false));
                i += 1;
            }
        }
    }
    Err(QueryError::malformed(
        "mismatched character '<EOF>' expecting '''",
        src.len(),
    ))
}

/// Classifies `2024-01-31`, `2024-01-31T10:00:00Z` and plain numbers.
fn classify_number(text: &str, pos: usize) -> Result<Tok, QueryError> {
    if text.parse::<f64>().is_ok() {
        return Ok(Tok::Num(text.into()));
    }
    if values::parse_date(text).is_some() {
        return Ok(Tok::Date(text.into()));
    }
    if text.len() > 10
        && text.contains('T')
        && let Some(dt) = values::normalize_datetime(text)
    {
        return Ok(Tok::DateTime(dt));
    }
    Err(QueryError::malformed(
        format!("unexpected token: '{text}'"),
        pos,
    ))
}

// ---------------------------------------------------------------- AST

/// A parsed query, resolved against the schema.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) object: &'static ObjectDef,
    pub(crate) select: Select,
    pub(crate) filter: Option<Expr>,
    pub(crate) order: Vec<OrderItem>,
    pub(crate) limit: Option<usize>,
    pub(crate) offset: usize,
}

/// What a query returns.
#[derive(Debug, Clone)]
pub(crate) enum Select {
    /// `COUNT()`: only `totalSize`.
    Count,
    /// `COUNT(field) [alias]`: one AggregateResult row.
    CountOf { path: FieldPath, alias: String },
    /// Records with these fields.
    Fields(Vec<FieldPath>),
}

/// A field reached through zero or more parent relationships.
#[derive(Debug, Clone)]
pub(crate) struct FieldPath {
    /// The reference fields followed, outermost first.
    pub(crate) hops: Vec<&'static FieldDef>,
    pub(crate) field: &'static FieldDef,
}

/// One ORDER BY key.
#[derive(Debug, Clone)]
pub(crate) struct OrderItem {
    pub(crate) path: FieldPath,
    pub(crate) desc: bool,
    pub(crate) nulls_first: bool,
}

/// A WHERE condition.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        path: FieldPath,
        op: CmpOp,
        value: Literal,
    },
    In {
        path: FieldPath,
        values: Vec<Literal>,
        negated: bool,
    },
    Like {
        path: FieldPath,
        pattern: Vec<PatChar>,
    },
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal, already checked against and normalized for its field's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    /// Text, or an id in its 18-char form, or a date / datetime in stored form.
    Text(String),
    /// A relative date literal such as `TODAY` or `LAST_N_DAYS:7` (inclusive).
    DateRange(NaiveDate, NaiveDate),
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatChar {
    /// `%`: any run of chars.
    Any,
    /// `_`: exactly one char.
    One,
    /// A literal char (lower-cased).
    Lit(char),
}

// ---------------------------------------------------------------- parser

/// Parses and resolves a SOQL query.
pub(crate) fn parse(src: &str) -> Result<Query, QueryError> {
    let toks = tokenize(src)?;
    Parser {
        toks,
        i: 0,
        src,
        object: None,
        alias: None,
        depth: 0,
    }
    .query()
}

/// A raw literal before it is typed against a field.
#[derive(Debug, Clone)]
enum RawLit {
    Null,
    Bool(bool),
    Number(f64),
    Str(Vec<LitChar>),
    Date(String),
    DateTime(String),
    Range(NaiveDate, NaiveDate),
}

struct Parser<'q> {
    toks: Vec<Token>,
    i: usize,
    src: &'q str,
    object: Option<&'static ObjectDef>,
    alias: Option<String>,
    /// Current nesting of parentheses and NOT.
    depth: usize,
}

/// Deepest nesting of parentheses and NOT accepted.
const MAX_NESTING: usize = 64;

/// One term stays itself; several become `make(terms)`.
fn flatten(mut terms: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1
        && let Some(only) = terms.pop()
    {
        return only;
    }
    make(terms)
}

/// Keywords that end a clause and therefore cannot be an alias.
const CLAUSE_KEYWORDS: &[&str] = &[
    "WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "HAVING", "WITH", "FOR", "USING", "FROM",
];

impl Parser<'_> {
    fn peek(&self) -> &Token {
        let last = self.toks.len() - 1;
        &self.toks[self.i.min(last)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn unexpected(&self) -> QueryError {
        let t = self.peek();
        let shown = t.shown(self.src);
        let shown = if t.tok == Tok::Eof {
            shown
        } else {
            format!("'{shown}'")
        };
        QueryError::malformed(format!("unexpected token: {shown}"), t.pos)
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), QueryError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), QueryError> {
        if &self.peek().tok == tok {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn ident(&mut self) -> Result<(String, usize), QueryError> {
        match self.peek().tok.clone() {
            Tok::Ident(s) => {
                let pos = self.bump().pos;
                Ok((s, pos))
            }
            _ => Err(self.unexpected()),
        }
    }

    fn unsigned(&mut self) -> Result<usize, QueryError> {
        match self.peek().tok.clone() {
            Tok::Num(n) => {
                let pos = self.peek().pos;
                let v = n
                    .parse::<usize>()
                    .map_err(|_| QueryError::malformed(format!("unexpected token: '{n}'"), pos))?;
                self.i += 1;
                Ok(v)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn query(mut self) -> Result<Query, QueryError> {
        self.expect_kw("SELECT")?;
        let raw_select = self.select_list()?;
        self.expect_kw("FROM")?;
        let (name, pos) = self.ident()?;
        let object = schema::object(&name).ok_or_else(|| {
            QueryError::at(
                "INVALID_TYPE",
                format!(
                    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
                ),
                pos,
            )
        })?;
        self.object = Some(object);
        if let Tok::Ident(a) = &self.peek().tok
            && !CLAUSE_KEYWORDS.iter().any(|k| a.eq_ignore_ascii_case(k))
        {
            self.alias = Some(a.clone());
            self.i += 1;
        }
        let select = self.resolve_select(object, raw_select)?;
        let filter = if self.eat_kw("WHERE") {
            Some(self.or_expr()?)
        } else {
            None
        };
        if self.is_kw("WITH") || self.is_kw("GROUP") || self.is_kw("HAVING") {
            return Err(self.unexpected());
        }
        let mut order = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            order = self.order_list()?;
        }
        let limit = if self.eat_kw("LIMIT") {
            Some(self.unsigned()?)
        } else {
            None
        };
        let offset = if self.eat_kw("OFFSET") {
            self.unsigned()?
        } else {
            0
        };
        if self.eat_kw("FOR")
            && !(self.eat_kw("VIEW") || self.eat_kw("REFERENCE") || self.eat_kw("UPDATE"))
        {
            return Err(self.unexpected());
        }
        if self.peek().tok != Tok::Eof {
            return Err(self.unexpected());
        }
        Ok(Query {
            object,
            select,
            filter,
            order,
            limit,
            offset,
        })
    }

    /// The SELECT list, unresolved (the object is not known yet).
    fn select_list(&mut self) -> Result<RawSelect, QueryError> {
        if self.is_kw("COUNT") && self.toks.get(self.i + 1).map(|t| &t.tok) == Some(&Tok::LParen) {
            self.i += 2;
            if self.peek().tok == Tok::RParen {
                self.i += 1;
                return Ok(RawSelect::Count);
            }
            let field = self.ident()?;
            self.expect(&Tok::RParen)?;
            let alias = match &self.peek().tok {
                Tok::Ident(a) if !a.eq_ignore_ascii_case("FROM") => {
                    let a = a.clone();
                    self.i += 1;
                    a
                }
                _ => "expr0".into(),
            };
            return Ok(RawSelect::CountOf(field, alias));
        }
        let mut fields = vec![self.ident()?];
        while self.peek().tok == Tok::Comma {
            self.i += 1;
            fields.push(self.ident()?);
        }
        Ok(RawSelect::Fields(fields))
    }

    fn resolve_select(
        &self,
        object: &'static ObjectDef,
        raw: RawSelect,
    ) -> Result<Select, QueryError> {
        Ok(match raw {
            RawSelect::Count => Select::Count,
            RawSelect::CountOf((text, pos), alias) => Select::CountOf {
                path: self.path(object, &text, pos)?,
                alias,
            },
            RawSelect::Fields(list) => {
                let mut seen: Vec<String> = Vec::new();
                let mut paths = Vec::new();
                for (text, pos) in list {
                    let path = self.path(object, &text, pos)?;
                    let key = path.key();
                    if seen.contains(&key) {
                        return Err(QueryError::at(
                            "MALFORMED_QUERY",
                            format!("duplicate field selected: {text}"),
                            pos,
                        ));
                    }
                    seen.push(key);
                    paths.push(path);
                }
                Select::Fields(paths)
            }
        })
    }

    /// Resolves `Account.Owner.Name` against `object`.
    fn path(
        &self,
        object: &'static ObjectDef,
        text: &str,
        pos: usize,
    ) -> Result<FieldPath, QueryError> {
        let mut segments: Vec<&str> = text.split('.').collect();
        if segments.len() > 1 {
            let first = segments[0];
            let is_alias = self
                .alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(first));
            let is_object =
                first.eq_ignore_ascii_case(object.name) && object.relationship(first).is_none();
            if is_alias || is_object {
                segments.remove(0);
            }
        }
        let Some((last, parents)) = segments.split_last() else {
            return Err(QueryError::malformed("unexpected token: '.'", pos));
        };
        let mut current = object;
        let mut hops = Vec::new();
        for seg in parents {
            let hop = current
                .relationship(seg)
                .and_then(|f| Some((f, f.target()?)))
                .ok_or_else(|| {
                    QueryError::at(
                        "INVALID_FIELD",
                        format!(
                            "Didn't understand relationship '{seg}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
                        ),
                        pos,
                    )
                })?;
            hops.push(hop.0);
            current = hop.1;
        }
        let field = current
            .field(last)
            .ok_or_else(|| QueryError::at("INVALID_FIELD", no_such_column(last, current), pos))?;
        Ok(FieldPath { hops, field })
    }

    fn order_list(&mut self) -> Result<Vec<OrderItem>, QueryError> {
        let object = self.object.ok_or_else(|| self.unexpected())?;
        let mut items = Vec::new();
        loop {
            let (text, pos) = self.ident()?;
            let path = self.path(object, &text, pos)?;
            let desc = if self.eat_kw("DESC") {
                true
            } else {
                self.eat_kw("ASC");
                false
            };
            let nulls_first = if self.eat_kw("NULLS") {
                if self.eat_kw("FIRST") {
                    true
                } else {
                    self.expect_kw("LAST")?;
                    false
                }
            } else {
                !desc
            };
            items.push(OrderItem {
                path,
                desc,
                nulls_first,
            });
            if self.peek().tok != Tok::Comma {
                return Ok(items);
            }
            self.i += 1;
        }
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut terms = vec![self.and_expr()?];
        while self.eat_kw("OR") {
            terms.push(self.and_expr()?);
        }
        Ok(flatten(terms, Expr::Or))
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut terms = vec![self.unary()?];
        while self.eat_kw("AND") {
            terms.push(self.unary()?);
        }
        Ok(flatten(terms, Expr::And))
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(QueryError::malformed(
                "expression nested too deeply",
                self.peek().pos,
            ));
        }
        let result = if self.eat_kw("NOT") {
            self.unary().map(|e| Expr::Not(Box::new(e)))
        } else if self.peek().tok == Tok::LParen {
            self.i += 1;
            self.or_expr()
                .and_then(|e| self.expect(&Tok::RParen).map(|()| e))
        } else {
            self.condition()
        };
        self.depth -= 1;
        result
    }

    fn condition(&mut self) -> Result<Expr, QueryError> {
        let object = self.object.ok_or_else(|| self.unexpected())?;
        let (text, pos) = self.ident()?;
        let path = self.path(object, &text, pos)?;
        if let Tok::Op(op) = self.peek().tok {
            self.i += 1;
            let op = match op {
                "=" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            let (raw, lit_pos) = self.literal()?;
            let value = typed(&path, raw, lit_pos)?;
            return Ok(Expr::Compare { path, op, value });
        }
        let negated = self.eat_kw("NOT");
        if self.eat_kw("IN") {
            self.expect(&Tok::LParen)?;
            let mut values = Vec::new();
            loop {
                let (raw, lit_pos) = self.literal()?;
                values.push(typed(&path, raw, lit_pos)?);
                if self.peek().tok != Tok::Comma {
                    break;
                }
                self.i += 1;
            }
            self.expect(&Tok::RParen)?;
            return Ok(Expr::In {
                path,
                values,
                negated,
            });
        }
        if !negated && self.eat_kw("LIKE") {
            let (raw, lit_pos) = self.literal()?;
            let RawLit::Str(chars) = raw else {
                return Err(QueryError::malformed(
                    "LIKE requires a string pattern",
                    lit_pos,
                ));
            };
            return Ok(Expr::Like {
                path,
                pattern: like_pattern(&chars),
            });
        }
        Err(self.unexpected())
    }

    fn literal(&mut self) -> Result<(RawLit, usize), QueryError> {
        let t = self.peek().clone();
        let lit = match &t.tok {
            Tok::Str(chars) => RawLit::Str(chars.clone()),
            Tok::Num(n) => RawLit::Number(n.parse().map_err(|_| self.unexpected())?),
            Tok::Date(d) => RawLit::Date(d.clone()),
            Tok::DateTime(d) => RawLit::DateTime(d.clone()),
            Tok::Ident(word) => keyword_literal(word).ok_or_else(|| self.unexpected())?,
            _ => return Err(self.unexpected()),
        };
        self.i += 1;
        Ok((lit, t.pos))
    }
}

enum RawSelect {
    Count,
    CountOf((String, usize), String),
    Fields(Vec<(String, usize)>),
}

impl FieldPath {
    /// A canonical key for duplicate detection.
    fn key(&self) -> String {
        let mut parts: Vec<&str> = self.hops.iter().map(|h| h.name).collect();
        parts.push(self.field.name);
        parts.join(".")
    }
}

/// INVALID_FIELD's message for an unknown column.
pub(crate) fn no_such_column(name: &str, object: &ObjectDef) -> String {
    format!(
        "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
        object.name
    )
}

/// `null`, `true`, `false` and the relative date literals.
fn keyword_literal(word: &str) -> Option<RawLit> {
    let upper = word.to_ascii_uppercase();
    let today = Utc::now().date_naive();
    let shift = |n: i64| {
        if n >= 0 {
            today.checked_add_days(Days::new(n.unsigned_abs()))
        } else {
            today.checked_sub_days(Days::new(n.unsigned_abs()))
        }
    };
    let range = |a: i64, b: i64| Some(RawLit::Range(shift(a)?, shift(b)?));
    match upper.as_str() {
        "NULL" => return Some(RawLit::Null),
        "TRUE" => return Some(RawLit::Bool(true)),
        "FALSE" => return Some(RawLit::Bool(false)),
        "TODAY" => return range(0, 0),
        "YESTERDAY" => return range(-1, -1),
        "TOMORROW" => return range(1, 1),
        _ => {}
    }
    let (name, n) = upper.split_once(':')?;
    let n: i64 = n.parse().ok().filter(|n| *n <= 100_000)?;
    match name {
        "LAST_N_DAYS" => range(-n, 0),
        "NEXT_N_DAYS" => range(1, n),
        _ => None,
    }
}

/// Types a raw literal against the field it is compared with.
fn typed(path: &FieldPath, raw: RawLit, pos: usize) -> Result<Literal, QueryError> {
    let f = path.field;
    let ty = f.ty;
    let wrong = |expected: &str, quoted: bool| {
        let how = if quoted {
            "should be enclosed in quotes"
        } else {
            "should not be enclosed in quotes"
        };
        QueryError::at(
            "INVALID_QUERY_FILTER_OPERATOR",
            format!(
                "value of filter criterion for field '{}' must be of type {expected} and {how}",
                f.name
            ),
            pos,
        )
    };
    match raw {
        RawLit::Null => Ok(Literal::Null),
        RawLit::Str(chars) if ty.is_text() => Ok(Literal::Text(plain(&chars))),
        RawLit::Str(chars) if ty.is_id() => {
            let text = plain(&chars);
            ids::parse(&text).map(Literal::Text).map_err(|_| {
                QueryError::at(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    format!("invalid ID field: {text}"),
                    pos,
                )
            })
        }
        RawLit::Number(n) if ty.is_number() => Ok(Literal::Number(n)),
        RawLit::Bool(b) if ty == FieldType::Boolean => Ok(Literal::Bool(b)),
        RawLit::Date(d) if ty == FieldType::Date => Ok(Literal::Text(d)),
        RawLit::DateTime(d) if ty == FieldType::DateTime => Ok(Literal::Text(d)),
        RawLit::Range(a, b) if matches!(ty, FieldType::Date | FieldType::DateTime) => {
            Ok(Literal::DateRange(a, b))
        }
        _ if ty.is_text() || ty.is_id() => Err(wrong("string", true)),
        _ if ty.is_number() => Err(wrong("double", false)),
        _ if ty == FieldType::Boolean => Err(wrong("boolean", false)),
        _ if ty == FieldType::Date => Err(wrong("date", false)),
        _ => Err(wrong("dateTime", false)),
    }
}

fn plain(chars: &[LitChar]) -> String {
    chars.iter().map(|c| c.0).collect()
}

fn like_pattern(chars: &[LitChar]) -> Vec<PatChar> {
    chars
        .iter()
        .flat_map(|&(c, escaped)| {
            let items: Vec<PatChar> = match (c, escaped) {
                ('%', false) => vec![PatChar::Any],
                ('_', false) => vec![PatChar::One],
                _ => c.to_lowercase().map(PatChar::Lit).collect(),
            };
            items
        })
        .collect()
}

// ---------------------------------------------------------------- evaluator

/// Follows `path` from `rec`; null when a parent is missing.
pub(crate) fn resolve<'s>(path: &FieldPath, rec: &'s Record, store: &'s Store) -> &'s Value {
    static NULL: Value = Value::Null;
    let mut current = rec;
    for hop in &path.hops {
        let parent = current
            .get(hop.name)
            .as_str()
            .and_then(|id| store.live_by_id(id));
        match parent {
            Some(p) => current = p,
            None => return &NULL,
        }
    }
    current.get(path.field.name)
}

/// Whether `rec` satisfies `expr`.
pub(crate) fn matches(expr: &Expr, rec: &Record, store: &Store) -> bool {
    match expr {
        Expr::And(terms) => terms.iter().all(|e| matches(e, rec, store)),
        Expr::Or(terms) => terms.iter().any(|e| matches(e, rec, store)),
        Expr::Not(e) => !matches(e, rec, store),
        Expr::Compare { path, op, value } => {
            compare(path.field.ty, resolve(path, rec, store), *op, value)
        }
        Expr::In {
            path,
            values,
            negated,
        } => {
            let v = resolve(path, rec, store);
            let hit = values
                .iter()
                .any(|lit| compare(path.field.ty, v, CmpOp::Eq, lit));
            hit != *negated
        }
        Expr::Like { path, pattern } => values::as_text(resolve(path, rec, store))
            .is_some_and(|text| like(pattern, &text.to_lowercase())),
    }
}

fn compare(ty: FieldType, v: &Value, op: CmpOp, lit: &Literal) -> bool {
    match (v.is_null(), lit) {
        (_, Literal::Null) => match op {
            CmpOp::Eq => v.is_null(),
            CmpOp::Ne => !v.is_null(),
            _ => false,
        },
        (true, _) => op == CmpOp::Ne,
        (false, Literal::DateRange(start, end)) => {
            let Some(d) = v
                .as_str()
                .and_then(|s| s.get(..10))
                .and_then(values::parse_date)
            else {
                return false;
            };
            match op {
                CmpOp::Eq => *start <= d && d <= *end,
                CmpOp::Ne => d < *start || d > *end,
                CmpOp::Lt => d < *start,
                CmpOp::Le => d <= *end,
                CmpOp::Gt => d > *end,
                CmpOp::Ge => d >= *start,
            }
        }
        (false, lit) => {
            let Some(ord) = cmp_literal(ty, v, lit) else {
                return op == CmpOp::Ne;
            };
            match op {
                CmpOp::Eq => ord == Ordering::Equal,
                CmpOp::Ne => ord != Ordering::Equal,
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Ge => ord != Ordering::Less,
            }
        }
    }
}

fn cmp_literal(ty: FieldType, v: &Value, lit: &Literal) -> Option<Ordering> {
    match lit {
        Literal::Number(n) => v.as_f64()?.partial_cmp(n),
        Literal::Bool(b) => Some(v.as_bool()?.cmp(b)),
        Literal::Text(t) if ty.is_text() => Some(v.as_str()?.to_lowercase().cmp(&t.to_lowercase())),
        Literal::Text(t) => Some(v.as_str()?.cmp(t.as_str())),
        Literal::Null | Literal::DateRange(..) => None,
    }
}

/// Orders two stored values of one field (both non-null).
fn cmp_values(ty: FieldType, a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) if ty.is_text() => x
            .to_lowercase()
            .cmp(&y.to_lowercase())
            .then_with(|| x.cmp(y)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Case-insensitive LIKE; `text` is already lower-cased.
pub(crate) fn like(pattern: &[PatChar], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // Iterative wildcard matching with backtracking to the last `%`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(PatChar::One) => {
                p += 1;
                t += 1;
            }
            Some(PatChar::Lit(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(PatChar::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|c| *c == PatChar::Any)
}

/// The result of running a query.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) total: usize,
    pub(crate) records: Vec<Json>,
}

/// Runs `q` against `store`; `all_rows` includes deleted records (queryAll).
pub(crate) fn execute(q: &Query, store: &Store, all_rows: bool, version: &str) -> Outcome {
    let rows = select_rows(q, store, all_rows, |_| true);
    match &q.select {
        Select::Count => Outcome {
            total: rows.len(),
            records: Vec::new(),
        },
        Select::CountOf { path, alias } => {
            let n = rows
                .iter()
                .filter(|r| !resolve(path, r, store).is_null())
                .count();
            let row = Json::object()
                .with("attributes", Json::object().with("type", "AggregateResult"))
                .with(alias, n);
            Outcome {
                total: 1,
                records: vec![row],
            }
        }
        Select::Fields(paths) => Outcome {
            total: rows.len(),
            records: rows
                .iter()
                .map(|r| render_row(paths, r, store, version))
                .collect(),
        },
    }
}

/// The records `q` selects (also passing `extra`), ordered, offset and limited.
pub(crate) fn select_rows<'s>(
    q: &Query,
    store: &'s Store,
    all_rows: bool,
    extra: impl Fn(&Record) -> bool,
) -> Vec<&'s Record> {
    let mut rows: Vec<&Record> = store
        .rows(q.object)
        .filter(|r| all_rows || !r.is_deleted())
        .filter(|r| q.filter.as_ref().is_none_or(|e| matches(e, r, store)))
        .filter(|r| extra(r))
        .collect();
    if !q.order.is_empty() {
        rows.sort_by(|a, b| order(&q.order, a, b, store));
    }
    rows.into_iter()
        .skip(q.offset)
        .take(q.limit.unwrap_or(usize::MAX))
        .collect()
}

fn order(items: &[OrderItem], a: &Record, b: &Record, store: &Store) -> Ordering {
    for item in items {
        let (x, y) = (resolve(&item.path, a, store), resolve(&item.path, b, store));
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if item.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if item.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let o = cmp_values(item.path.field.ty, x, y);
                if item.desc { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// One result record: attributes, then the selected fields, parents nested.
pub(crate) fn render_row(paths: &[FieldPath], rec: &Record, store: &Store, version: &str) -> Json {
    let mut j = Json::object().with(
        "attributes",
        store::attributes(rec.object, &rec.id, version),
    );
    for path in paths {
        insert_path(&mut j, &path.hops, path.field, rec, store, version);
    }
    j
}

fn insert_path(
    j: &mut Json,
    hops: &[&'static FieldDef],
    field: &FieldDef,
    rec: &Record,
    store: &Store,
    version: &str,
) {
    let Some((hop, rest)) = hops.split_first() else {
        j.set(field.name, store::field_json(rec, field, version));
        return;
    };
    let rel = hop.relationship.unwrap_or(hop.name);
    let parent = rec
        .get(hop.name)
        .as_str()
        .and_then(|id| store.live_by_id(id));
    let Some(parent) = parent else {
        j.set(rel, Value::Null);
        return;
    };
    if j.get_mut(rel).is_none() {
        let nested = Json::object().with(
            "attributes",
            store::attributes(parent.object, &parent.id, version),
        );
        j.set(rel, nested);
    }
    if let Some(nested) = j.get_mut(rel) {
        insert_path(nested, rest, field, parent, store, version);
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::{Actor, parse_body};
    use super::*;
    use serde_json::json;

    const USER: &str = "0055g0000000001AAA";

    fn err(q: &str) -> QueryError {
        parse(q).expect_err(q)
    }

    #[test]
    fn tokenizes_escapes() {
        let toks = tokenize(r"'a\'b\\c\n\%\_%'").expect("tokens");
        let Tok::Str(chars) = &toks[0].tok else {
            panic!("not a string");
        };
        assert_eq!(plain(chars), "a'b\\c\n%_%");
        assert_eq!(
            like_pattern(chars)[6..],
            [PatChar::Lit('%'), PatChar::Lit('_'), PatChar::Any]
        );
        assert_eq!(
            err(r"SELECT Id FROM Lead WHERE Name = 'a\x'").code,
            "MALFORMED_QUERY"
        );
        assert_eq!(
            err("SELECT Id FROM Lead WHERE Name = 'abc").code,
            "MALFORMED_QUERY"
        );
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let deep = format!(
            "SELECT Id FROM Lead WHERE {}Name = 'x'{}",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert_eq!(err(&deep).code, "MALFORMED_QUERY");
        let nots = format!(
            "SELECT Id FROM Lead WHERE {}Name = 'x'",
            "NOT ".repeat(10_000)
        );
        assert_eq!(err(&nots).code, "MALFORMED_QUERY");
        let long = format!(
            "SELECT Id FROM Lead WHERE Name = 'x'{}",
            " OR Name = 'y'".repeat(20_000)
        );
        assert!(parse(&long).is_ok());
    }

    #[test]
    fn like_matching() {
        let p = |s: &str| like_pattern(&s.chars().map(|c| (c, false)).collect::<Vec<_>>());
        assert!(like(&p("acme%"), "acme corp"));
        assert!(like(&p("%corp"), "acme corp"));
        assert!(like(&p("a_me%"), "acme"));
        assert!(like(&p("%m%c%"), "acme corp"));
        assert!(!like(&p("acme"), "acme corp"));
        assert!(like(&p("%"), ""));
        assert!(!like(&[PatChar::Lit('%')], "x"));
    }

    #[test]
    fn parses_full_query() {
        let q = parse(
            "select Id, Name, Account.Name, Account.Owner.Name from Contact c \
             where (c.LastName like 'Sm%' OR Email != null) and not Account.Name in ('A', 'B') \
             order by LastName desc nulls last, Id limit 10 offset 5",
        )
        .expect("query");
        assert_eq!(q.object.name, "Contact");
        assert_eq!((q.limit, q.offset), (Some(10), 5));
        assert!(q.order[0].desc && !q.order[0].nulls_first);
        assert!(q.order[1].nulls_first);
        let Select::Fields(paths) = &q.select else {
            panic!("fields");
        };
        assert_eq!(paths[3].hops.len(), 2);
        assert!(matches!(
            parse("SELECT COUNT() FROM Lead").map(|q| q.select),
            Ok(Select::Count)
        ));
        assert!(parse("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-01T00:00:00Z AND CreatedDate < LAST_N_DAYS:30").is_ok());
        assert!(parse("SELECT MasterLabel FROM LeadStatus WHERE IsConverted = true ORDER BY SortOrder LIMIT 1").is_ok());
    }

    #[test]
    fn reports_errors_like_salesforce() {
        let e = err("SELECT Foo FROM Lead");
        assert_eq!(e.code, "INVALID_FIELD");
        let api = e.into_api("SELECT Foo FROM Lead");
        assert!(api.items[0].message.starts_with(
            "\nSELECT Foo FROM Lead\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo' on entity 'Lead'."
        ));
        assert_eq!(err("SELECT Id FROM Foo").code, "INVALID_TYPE");
        assert!(
            err("SELECT Id FROM Foo")
                .message
                .starts_with("sObject type 'Foo' is not supported.")
        );
        assert_eq!(
            err("SELECT Id FROM Lead WHERE").message,
            "unexpected token: <EOF>"
        );
        assert_eq!(err("SELECT Id FRM Lead").message, "unexpected token: 'FRM'");
        assert_eq!(
            err("SELECT Id FROM Lead WHERE Amount = 1").code,
            "INVALID_FIELD"
        );
        assert_eq!(
            err("SELECT Id FROM Lead WHERE Id = 'xyz'").code,
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            err("SELECT Id FROM Lead WHERE Name = 5").code,
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            err("SELECT Id FROM Opportunity WHERE Amount = '5'").code,
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(err("SELECT Id, id FROM Lead").code, "MALFORMED_QUERY");
        assert_eq!(err("SELECT Id FROM Lead LIMIT x").code, "MALFORMED_QUERY");
    }

    fn sample() -> Store {
        let mut s = Store::new();
        let obj = |n: &str| schema::object(n).expect("object");
        let add = |s: &mut Store, name: &str, body: Value| {
            let input = parse_body(s, obj(name), &body.to_string(), true).expect("input");
            s.create(obj(name), input, Actor::api(USER))
                .expect("create")
        };
        let acme = add(&mut s, "Account", json!({"Name": "Acme"}));
        add(
            &mut s,
            "Contact",
            json!({"LastName": "Smith", "FirstName": "Ann", "AccountId": acme, "Email": "ann@example.com"}),
        );
        add(
            &mut s,
            "Contact",
            json!({"LastName": "smythe", "AccountId": acme}),
        );
        add(
            &mut s,
            "Contact",
            json!({"LastName": "Jones", "Title": "50% off_x"}),
        );
        s
    }

    fn run(s: &Store, q: &str) -> Outcome {
        execute(&parse(q).expect(q), s, false, "66.0")
    }

    #[test]
    fn evaluates_filters_and_order() {
        let s = sample();
        assert_eq!(run(&s, "SELECT COUNT() FROM Contact").total, 3);
        assert_eq!(
            run(&s, "SELECT Id FROM Contact WHERE LastName = 'SMITH'").total,
            1
        );
        assert_eq!(
            run(&s, "SELECT Id FROM Contact WHERE LastName LIKE 'sm%'").total,
            2
        );
        assert_eq!(
            run(
                &s,
                "SELECT Id FROM Contact WHERE Title LIKE '50\\% off\\_%'"
            )
            .total,
            1
        );
        assert_eq!(
            run(&s, "SELECT Id FROM Contact WHERE Title LIKE '50\\%off%'").total,
            0
        );
        assert_eq!(
            run(&s, "SELECT Id FROM Contact WHERE Email = null").total,
            2
        );
        assert_eq!(
            run(
                &s,
                "SELECT Id FROM Contact WHERE Email != 'ann@example.com'"
            )
            .total,
            2
        );
        assert_eq!(
            run(
                &s,
                "SELECT Id FROM Contact WHERE LastName NOT IN ('Smith', 'Jones')"
            )
            .total,
            1
        );
        assert_eq!(
            run(
                &s,
                "SELECT Id FROM Contact WHERE NOT (LastName = 'Smith' OR LastName = 'Jones')"
            )
            .total,
            1
        );
        assert_eq!(
            run(
                &s,
                "SELECT Id FROM Contact WHERE Account.Name = 'acme' AND CreatedDate = TODAY"
            )
            .total,
            2
        );
        let out = run(
            &s,
            "SELECT LastName FROM Contact ORDER BY LastName DESC LIMIT 2",
        );
        let names: Vec<String> = out.records.iter().map(|r| r.to_text()).collect();
        assert!(
            names[0].contains("smythe") && names[1].contains("Smith"),
            "{names:?}"
        );
        let out = run(
            &s,
            "SELECT Id FROM Contact ORDER BY AccountId NULLS LAST, Id OFFSET 2",
        );
        assert_eq!(out.total, 1);
        let first = run(&s, "SELECT Id FROM Contact ORDER BY Id LIMIT 1");
        let id = first.records[0].to_text();
        let id = &id[id.len() - 20..id.len() - 2];
        assert_eq!(
            run(&s, &format!("SELECT Id FROM Contact WHERE Id > '{id}'")).total,
            2
        );
        assert_eq!(
            run(
                &s,
                &format!("SELECT Id FROM Contact WHERE Id = '{}'", &id[..15])
            )
            .total,
            1
        );
    }

    #[test]
    fn renders_parent_fields() {
        let s = sample();
        let out = run(
            &s,
            "SELECT Name, Account.Name, Account.Owner.Username FROM Contact ORDER BY LastName",
        );
        let text = out.records[0].to_text();
        assert!(text.contains(r#""Account":null"#), "{text}");
        let text = out.records[1].to_text();
        assert!(text.starts_with(r#"{"attributes":{"type":"Contact","url":"/services/data/v66.0/sobjects/Contact/003"#), "{text}");
        assert!(text.contains(r#""Account":{"attributes":{"type":"Account","url":"/services/data/v66.0/sobjects/Account/001"#), "{text}");
        assert!(text.contains(r#""Name":"Acme","Owner":null}"#), "{text}");
        let agg = run(&s, "SELECT COUNT(AccountId) n FROM Contact");
        assert_eq!(
            agg.records[0].to_text(),
            r#"{"attributes":{"type":"AggregateResult"},"n":2}"#
        );
    }
}
