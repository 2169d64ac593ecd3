//! HTTP rules (`google.api.http`, AIP-127) as routes: each rule's path template parsed once, and
//! a request's method and path matched against them.
//!
//! Templates are `/`-separated segments, each a literal or a `{field.path}` variable matching one
//! segment (`{field=*}` alike), with an optional `:verb` after the last: `/v1/leads/{id}`,
//! `/v1/leads:find`, `/v1/records/{object}/{external_id_field}/{external_id}:upsert`. Multi-segment
//! variables (`**`) are refused when the routes are built, not met at request time.

use std::fmt;

use percent_encoding::percent_decode_str;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this text.
    Literal(String),
    /// Matches one non-empty segment, bound to this field path (`lead.id` → `["lead", "id"]`).
    Variable(Vec<String>),
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    segments: Vec<Segment>,
    verb: Option<String>,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError(String);

impl fmt::Display for TemplateError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A variable's field path and its percent-decoded value.
pub(crate) type Binding = (Vec<String>, String);

impl PathTemplate {
    /// Parses a template such as `/v1/leads/{lead.id}` or `/v1/leads/{lead_id}:convert`.
    pub(crate) fn parse(text: &str) -> Result<Self, TemplateError> {
        let refuse = |why: &str| Err(TemplateError(format!("path template {text:?}: {why}")));
        let Some(rest) = text.strip_prefix('/') else {
            return refuse("must start with /");
        };
        // A verb follows the last segment's closing brace or text: `…/{id}:convert`, `…/leads:find`.
        let last = rest.rsplit('/').next().unwrap_or_default();
        let (rest, verb) = match last.rfind(':') {
            Some(at) if !last[at..].contains('}') => {
                let cut = rest.len() - (last.len() - at);
                (&rest[..cut], Some(rest[cut + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        if verb.as_deref().is_some_and(|verb| !is_literal(verb)) {
            return refuse("the verb must be a literal");
        }
        let mut segments = Vec::new();
        for part in rest.split('/') {
            if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                let (path, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                if pattern != "*" {
                    return refuse(
                        "only single-segment variables ({field} or {field=*}) are supported",
                    );
                }
                let path: Vec<String> = path.split('.').map(str::to_owned).collect();
                if path.iter().any(|name| !is_identifier(name)) {
                    return refuse("a variable must name a field path such as lead.id");
                }
                segments.push(Segment::Variable(path));
            } else if is_literal(part) {
                segments.push(Segment::Literal(part.to_owned()));
            } else {
                return refuse("segments are literals or {field} variables");
            }
        }
        Ok(Self { segments, verb })
    }

    /// The template as an OpenAPI path: `/v1/leads/{lead.id}`, `/v1/leads:find`.
    pub(crate) fn openapi_path(&self) -> String {
        self.written(|field| format!("{{{}}}", field.join(".")))
    }

    /// The template with its variables unnamed, `/v1/leads/{}`: templates of one shape match
    /// the same paths.
    pub(crate) fn shape(&self) -> String {
        self.written(|_| "{}".to_owned())
    }

    /// The template written out, each variable as `variable` writes it.
    fn written(&self, variable: impl Fn(&[String]) -> String) -> String {
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Literal(literal) => path.push_str(literal),
                Segment::Variable(field) => path.push_str(&variable(field)),
            }
        }
        if let Some(verb) = &self.verb {
            path.push(':');
            path.push_str(verb);
        }
        path
    }

    /// The field paths of its variables, in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &[String]> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Variable(path) => Some(path.as_slice()),
            Segment::Literal(_) => None,
        })
    }

    /// How many literal segments it has: more literals match more specifically.
    pub(crate) fn literals(&self) -> usize {
        self.segments.len() - self.variables().count()
    }

    /// The variables' values if `path` (without a query) matches; `None` otherwise, and for a
    /// variable whose value does not percent-decode to UTF-8.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<Binding>> {
        let rest = path.strip_prefix('/')?;
        let rest = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut bindings = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                // Without a verb in the template, a `:` in the last segment is part of the value
                // only if no route with that verb matched first (routes are tried most literal
                // first); an empty value never matches.
                Segment::Variable(field) if !part.is_empty() => {
                    let value = percent_decode_str(part).decode_utf8().ok()?;
                    bindings.push((field.clone(), value.into_owned()));
                }
                Segment::Variable(_) => return None,
            }
        }
        Some(bindings)
    }
}

fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_literal(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathTemplate::parse(template)
            .unwrap()
            .matches(path)
            .map(|bindings| {
                bindings
                    .into_iter()
                    .map(|(field, value)| (field.join("."), value))
                    .collect()
            })
    }

    #[test]
    fn matches_literals_variables_and_verbs() {
        let pairs = |list: &[(&str, &str)]| -> Option<Vec<(String, String)>> {
            Some(
                list.iter()
                    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                    .collect(),
            )
        };
        assert_eq!(bound("/v1/leads", "/v1/leads"), pairs(&[]));
        assert_eq!(
            bound("/v1/leads/{id}", "/v1/leads/00Q1"),
            pairs(&[("id", "00Q1")])
        );
        assert_eq!(
            bound("/v1/leads/{lead.id}", "/v1/leads/00Q1"),
            pairs(&[("lead.id", "00Q1")])
        );
        assert_eq!(bound("/v1/leads:find", "/v1/leads:find"), pairs(&[]));
        assert_eq!(bound("/v1/leads:find", "/v1/leads"), None);
        assert_eq!(
            bound("/v1/leads/{lead_id}:convert", "/v1/leads/00Q1:convert"),
            pairs(&[("lead_id", "00Q1")])
        );
        assert_eq!(bound("/v1/leads/{lead_id}:convert", "/v1/leads/00Q1"), None);
        assert_eq!(
            bound(
                "/v1/lookup/phone/{phone}",
                "/v1/lookup/phone/%2B1%20415%20555%200100"
            ),
            pairs(&[("phone", "+1 415 555 0100")])
        );
        assert_eq!(
            bound(
                "/v1/records/{object}/{external_id_field}/{external_id}:upsert",
                "/v1/records/Account/ERP_Id__c/A-42:upsert"
            ),
            pairs(&[
                ("object", "Account"),
                ("external_id_field", "ERP_Id__c"),
                ("external_id", "A-42")
            ])
        );
        assert_eq!(
            bound("/v1/leads/{id}", "/v1/leads/"),
            None,
            "an empty value"
        );
        assert_eq!(bound("/v1/leads/{id}", "/v1/leads/a/b"), None);
        assert_eq!(bound("/v1/leads/{id}", "/v1/leads/%FF"), None, "not UTF-8");
        assert_eq!(
            bound("/v1/leads/{id=*}", "/v1/leads/x"),
            pairs(&[("id", "x")])
        );
    }

    #[test]
    fn refuses_what_it_cannot_match() {
        for bad in [
            "v1/leads",
            "/v1/{name=**}",
            "/v1/{a-b}",
            "/v1/leads:{verb}",
            "/v1//x",
            "/v1/le ads",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad}");
        }
        let template = PathTemplate::parse("/v1/records/{object}/{id}").unwrap();
        assert_eq!(template.literals(), 2);
        assert_eq!(template.variables().count(), 2);
    }
}
