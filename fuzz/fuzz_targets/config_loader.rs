//! Configuration text, any bytes: a configuration or an error, never a panic; an error never
//! quotes a secret's value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfgate::config::Config;

/// A secret value the inputs may carry; it must never be in an error.
const CANARY: &str = "s3cr3t-canary-9731";

fuzz_target!(|text: &str| {
    if let Err(error) = Config::from_toml(text) {
        let message = format!("{error:#}");
        if !text.contains(&format!("\"{CANARY}\"")) {
            return;
        }
        // The canary is only ever written as a secret's value by the seeds.
        assert!(!message.contains(CANARY), "{message}");
    }
});
