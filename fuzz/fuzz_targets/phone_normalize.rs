//! Phone numbers as LookupByPhone reads them: any text is a number or a refusal, never a panic;
//! a number is `+` and at most 15 digits, and normalises to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfgate::api::fuzzing::normalize_phone;

fuzz_target!(|input: (&str, &str)| {
    let (text, country) = input;
    for country in [country, "1", "44"] {
        if let Ok(e164) = normalize_phone(text, country) {
            let digits = e164.strip_prefix('+').expect("starts with +");
            assert!(!digits.is_empty() && digits.len() <= 15, "{e164}");
            assert!(digits.bytes().all(|byte| byte.is_ascii_digit()), "{e164}");
            assert_eq!(
                normalize_phone(&e164, country).as_deref(),
                Ok(e164.as_str())
            );
        }
    }
});
