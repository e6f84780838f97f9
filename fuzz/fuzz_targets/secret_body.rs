//! A Secret's body comes from the API server (or whatever answers in its place). Parsing it
//! must never panic, and every value it returns must already be known to the redactor: a
//! token is registered before anything about the Secret can be printed.
#![no_main]

use iter8_gitops::{kube::secret::values, trust::redact};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(values) = values(body) {
        for (_, v) in values {
            if let Ok(text) = std::str::from_utf8(&v) {
                let text = text.trim();
                if text.len() >= 8 {
                    assert!(!redact::text(text).contains(text), "a value reached the output");
                }
            }
        }
    }
});
