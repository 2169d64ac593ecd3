//! Record IDs: any text is an ID or an error, never a panic; an accepted ID is 18 characters
//! whose first 15 are the input's, and reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfgate::salesforce::SalesforceId;

fuzz_target!(|input: (&str, &str)| {
    let (text, prefix) = input;
    if let Ok(id) = SalesforceId::parse(text) {
        let normal = id.as_str();
        assert_eq!(normal.len(), 18, "{normal}");
        assert!(
            normal.bytes().all(|byte| byte.is_ascii_alphanumeric()),
            "{normal}"
        );
        assert_eq!(&normal[..15], &text[..15]);
        assert_eq!(
            SalesforceId::parse(normal).expect("reads back").as_str(),
            normal
        );
        assert_eq!(id.key_prefix(), &normal[..3]);
    }
    if let Ok(id) = SalesforceId::parse_for(text, "Lead", prefix) {
        assert_eq!(id.key_prefix(), prefix);
    }
});
