//! A last line of defence: every secret this process learns is registered here, and every
//! text that leaves the process (the error chain, the report) is passed through [`text`].
//! The code does not put secrets in messages to begin with; this catches what a library might.

use std::sync::{Mutex, OnceLock};

fn secrets() -> &'static Mutex<Vec<String>> {
    static S: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(vec![]))
}

/// Remembers `secret` so that [`text`] hides it.
pub fn register(secret: &str) {
    if secret.len() >= 4 {
        secrets()
            .lock()
            .expect("redaction list lock")
            .push(secret.to_string());
    }
}

/// `s` with every registered secret replaced by `***`.
pub fn text(s: &str) -> String {
    let list = secrets().lock().expect("redaction list lock");
    list.iter().fold(s.to_string(), |acc, secret| {
        acc.replace(secret.as_str(), "***")
    })
}
