//! A caller's SOQL with `:name` placeholders, bound to any values: the values never change the
//! query's structure (the same template bound to `x`s has the same structure, literals aside)
//! and each bound text comes back from its literal exactly.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sfgate::salesforce::soql::{SoqlParam, SoqlValue, bind};
use sfgate_fuzz::{soql_value as value, split_soql};

#[derive(Debug)]
struct Input {
    template: String,
    params: BTreeMap<String, SoqlParam>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        const NAMES: &[&str] = &["email", "name", "ids", "x", "_a1"];
        let mut params = BTreeMap::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let name = if u.ratio(4, 5)? {
                (*u.choose(NAMES)?).to_owned()
            } else {
                u.arbitrary()?
            };
            let param = if u.arbitrary()? {
                SoqlParam::Value(value(u)?)
            } else {
                SoqlParam::List(
                    (0..u.int_in_range(0..=3)?)
                        .map(|_| value(u))
                        .collect::<Result<_>>()?,
                )
            };
            params.insert(name, param);
        }
        let template = if u.ratio(1, 2)? {
            // A plausible query using the parameters, with arbitrary text around.
            let mut template = String::from("SELECT Id FROM Lead WHERE ");
            for name in params.keys() {
                template.push_str(&format!("Email = :{name} AND "));
            }
            let tail: String = u.arbitrary()?;
            template.push_str(&tail);
            template
        } else {
            u.arbitrary()?
        };
        Ok(Self { template, params })
    }
}

fn plain(param: &SoqlParam) -> SoqlParam {
    let plain_value = |value: &SoqlValue| match value {
        SoqlValue::Text(_) => SoqlValue::Text("x".into()),
        other => other.clone(),
    };
    match param {
        SoqlParam::Value(value) => SoqlParam::Value(plain_value(value)),
        SoqlParam::List(values) => SoqlParam::List(values.iter().map(plain_value).collect()),
    }
}

fuzz_target!(|input: Input| {
    let Ok(bound) = bind(&input.template, &input.params) else {
        return;
    };
    let plain_params = input
        .params
        .iter()
        .map(|(name, param)| (name.clone(), plain(param)))
        .collect();
    let control =
        bind(&input.template, &plain_params).expect("the same template binds the same names");
    let (skeleton, values) = split_soql(bound.as_str()).expect("every literal ends");
    let (control_skeleton, control_values) =
        split_soql(control.as_str()).expect("every literal ends");
    assert_eq!(
        skeleton,
        control_skeleton,
        "values changed the structure of {}",
        bound.as_str()
    );
    assert_eq!(values.len(), control_values.len());
    // The template's own literals are the same in both; the bound ones are the values.
    let mut bound_texts = Vec::new();
    for param in input.params.values() {
        let texts = match param {
            SoqlParam::Value(value) => vec![value],
            SoqlParam::List(values) => values.iter().collect(),
        };
        bound_texts.extend(texts.into_iter().filter_map(|value| match value {
            SoqlValue::Text(text) => Some(text.clone()),
            _ => None,
        }));
    }
    for (value, control_value) in values.iter().zip(&control_values) {
        if value != control_value {
            assert!(
                control_value == "x" && bound_texts.contains(value),
                "a literal of {} is neither the template's nor a bound value: {value:?}",
                bound.as_str()
            );
        }
    }
});
