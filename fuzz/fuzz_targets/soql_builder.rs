//! A query built from any names and values: names are refused unless they are API names, and
//! values never change the query's structure (the same query with every text replaced by `x`
//! has the same structure) and come back from its literals exactly.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sfgate::salesforce::soql::{Comparison, Condition, Direction, SelectQuery, SoqlValue};
use sfgate_fuzz::{soql_value as value, split_soql};

#[derive(Debug)]
struct Input {
    object: String,
    fields: Vec<String>,
    conditions: Vec<Condition>,
    order_by: Vec<(String, bool)>,
    limit: Option<u32>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let count = u.int_in_range(0..=4)?;
        let conditions = (0..count).map(|_| condition(u, 0)).collect::<Result<_>>()?;
        Ok(Self {
            object: name(u)?,
            fields: (0..u.int_in_range(0..=4)?)
                .map(|_| name(u))
                .collect::<Result<_>>()?,
            conditions,
            order_by: (0..u.int_in_range(0..=2)?)
                .map(|_| Ok((name(u)?, u.arbitrary()?)))
                .collect::<Result<_>>()?,
            limit: u.arbitrary()?,
        })
    }
}

/// Mostly plausible API names, sometimes anything.
fn name(u: &mut Unstructured<'_>) -> Result<String> {
    const NAMES: &[&str] = &[
        "Id",
        "Name",
        "Email",
        "Account.Name",
        "Foo__c",
        "Owner.Profile.Name",
    ];
    if u.ratio(3, 4)? {
        Ok((*u.choose(NAMES)?).to_owned())
    } else {
        u.arbitrary()
    }
}

fn condition(u: &mut Unstructured<'_>, depth: u32) -> Result<Condition> {
    let kinds = if depth >= 3 { 2 } else { 4 };
    Ok(match u.int_in_range(0..=kinds)? {
        0 => Condition::Compare {
            field: name(u)?,
            comparison: *u.choose(&[
                Comparison::Equals,
                Comparison::NotEquals,
                Comparison::GreaterThan,
                Comparison::LessThan,
            ])?,
            value: value(u)?,
        },
        1 => Condition::StartsWith {
            field: name(u)?,
            prefix: u.arbitrary()?,
        },
        2 => Condition::In {
            field: name(u)?,
            values: (0..u.int_in_range(1..=4)?)
                .map(|_| value(u))
                .collect::<Result<_>>()?,
        },
        3 => Condition::All(
            (0..u.int_in_range(1..=3)?)
                .map(|_| condition(u, depth + 1))
                .collect::<Result<_>>()?,
        ),
        _ => Condition::Any(
            (0..u.int_in_range(1..=3)?)
                .map(|_| condition(u, depth + 1))
                .collect::<Result<_>>()?,
        ),
    })
}

/// The texts of a condition, in the order the query writes them (a LIKE prefix with its `%`).
fn texts(condition: &Condition, out: &mut Vec<String>) {
    let value_text = |value: &SoqlValue, out: &mut Vec<String>| {
        if let SoqlValue::Text(text) = value {
            out.push(text.clone());
        }
    };
    match condition {
        Condition::Compare { value, .. } => value_text(value, out),
        Condition::StartsWith { prefix, .. } => out.push(format!("{prefix}%")),
        Condition::In { values, .. } => values.iter().for_each(|value| value_text(value, out)),
        Condition::All(all) | Condition::Any(all) => all.iter().for_each(|inner| texts(inner, out)),
    }
}

/// The same condition with every text replaced by `x`.
fn plain(condition: &Condition) -> Condition {
    let plain_value = |value: &SoqlValue| match value {
        SoqlValue::Text(_) => SoqlValue::Text("x".into()),
        other => other.clone(),
    };
    match condition {
        Condition::Compare {
            field,
            comparison,
            value,
        } => Condition::Compare {
            field: field.clone(),
            comparison: *comparison,
            value: plain_value(value),
        },
        Condition::StartsWith { field, .. } => Condition::StartsWith {
            field: field.clone(),
            prefix: "x".into(),
        },
        Condition::In { field, values } => Condition::In {
            field: field.clone(),
            values: values.iter().map(plain_value).collect(),
        },
        Condition::All(all) => Condition::All(all.iter().map(plain).collect()),
        Condition::Any(any) => Condition::Any(any.iter().map(plain).collect()),
    }
}

fn build(input: &Input, conditions: &[Condition]) -> Option<String> {
    let mut query =
        SelectQuery::new(&input.object, input.fields.iter().map(String::as_str)).ok()?;
    for condition in conditions {
        query = query.filter(condition.clone()).ok()?;
    }
    for (field, descending) in &input.order_by {
        let direction = if *descending {
            Direction::Descending
        } else {
            Direction::Ascending
        };
        query = query.order_by(field, direction).ok()?;
    }
    if let Some(limit) = input.limit {
        query = query.limit(limit);
    }
    Some(query.to_soql())
}

fuzz_target!(|input: Input| {
    let Some(soql) = build(&input, &input.conditions) else {
        return;
    };
    let plain_conditions: Vec<Condition> = input.conditions.iter().map(plain).collect();
    let control = build(&input, &plain_conditions).expect("the same names build the same query");
    let (skeleton, values) = split_soql(&soql).expect("every literal ends");
    let (control_skeleton, _) = split_soql(&control).expect("every literal ends");
    assert_eq!(
        skeleton, control_skeleton,
        "values changed the structure of {soql}"
    );
    let mut expected = Vec::new();
    input
        .conditions
        .iter()
        .for_each(|condition| texts(condition, &mut expected));
    assert_eq!(
        values, expected,
        "the literals of {soql} are not the values"
    );
});
