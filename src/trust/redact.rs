//! Structural redaction: every secret this process learns is registered here, in every form it
//! travels in (raw, percent- and JSON-escaped, base64, the base64 of a Basic `user:secret`,
//! each line of a PEM or OpenSSH key), and every byte that leaves the process passes
//! [`text`]: the log writer ([`Stderr`]), the error chain, the report and the termination
//! log. The code does not put secrets in messages to begin with; this catches what a library,
//! a server's echo or a future change might.
//!
//! URLs in messages go through [`url`], which drops userinfo, query and fragment: a token
//! pasted into a URL is not "registered", yet must not be printed either.

use std::{
    io::Write,
    sync::{Mutex, OnceLock},
};

use base64::Engine;

/// Shorter texts are not worth hiding (and would mask ordinary words).
const MIN_LEN: usize = 4;
/// A fragment of a longer secret (a key's line) is hidden only when at least this long.
const MIN_FRAGMENT: usize = 16;

fn secrets() -> &'static Mutex<Vec<String>> {
    static S: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    S.get_or_init(|| Mutex::new(vec![]))
}

fn add(list: &mut Vec<String>, form: String, min: usize) {
    if form.len() >= min && !list.contains(&form) {
        list.push(form);
    }
}

/// Remembers `secret`, and the forms it is encoded in on the wire, so that [`text`] hides them.
pub fn register(secret: &str) {
    let mut list = secrets().lock().expect("redaction list lock");
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    add(&mut list, secret.to_string(), MIN_LEN);
    if secret.len() < MIN_LEN {
        return;
    }
    add(&mut list, percent(secret), MIN_LEN);
    let json = serde_json::to_string(secret).expect("a string serializes");
    add(&mut list, json[1..json.len() - 1].to_string(), MIN_LEN);
    add(&mut list, b64.encode(secret), MIN_LEN);
    add(&mut list, b64url.encode(secret), MIN_LEN);
    // A key's lines (PEM, OpenSSH): one printed line of it is a leak too.
    if secret.contains('\n') {
        for line in secret.lines().map(str::trim) {
            if !line.starts_with("-----") {
                add(&mut list, line.to_string(), MIN_FRAGMENT);
            }
        }
    }
    // Longest first: a form that contains another is replaced whole.
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Registers `secret` and the `Authorization: Basic` value git sends for `user`.
pub fn register_basic(user: &str, secret: &str) {
    register(secret);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
    register(&basic);
}

fn percent(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `s` with every registered secret replaced by `***`.
pub fn text(s: &str) -> String {
    let list = secrets().lock().expect("redaction list lock");
    list.iter().fold(s.to_string(), |acc, secret| {
        acc.replace(secret.as_str(), "***")
    })
}

/// A URL fit to print: no userinfo, no query, no fragment. Text that is not a URL keeps only
/// what stands outside a `user:pass@` part and before a `?`.
pub fn url(s: &str) -> String {
    if let Ok(mut u) = url::Url::parse(s)
        && u.has_host()
    {
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.set_query(None);
        u.set_fragment(None);
        return u.to_string();
    }
    let s = s.split(['?', '#']).next().unwrap_or_default();
    match (s.find("://"), s.rfind('@')) {
        (Some(i), Some(at)) if at > i => format!("{}***@{}", &s[..i + 3], &s[at + 1..]),
        (None, Some(at)) if !s[..at].contains('/') => format!("***@{}", &s[at + 1..]),
        _ => s.to_string(),
    }
}

/// Writes `s` to stderr, redacted.
pub fn eprint(s: &str) {
    let _ = std::io::stderr().write_all(text(s).as_bytes());
}

/// The log writer: each event tracing formats is collected whole, then written redacted.
pub struct Stderr;

/// One event's bytes on their way to stderr.
pub struct Event(Vec<u8>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Event;
    fn make_writer(&'a self) -> Event {
        Event(Vec::with_capacity(256))
    }
}

impl Write for Event {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        eprint(&String::from_utf8_lossy(&self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_registered_secret_is_hidden() {
        let token = "tok/en+Redact=Me%42";
        register_basic("x-access-token", token);
        let b64 = base64::engine::general_purpose::STANDARD;
        for leak in [
            token.to_string(),
            percent(token),
            b64.encode(token),
            b64.encode(format!("x-access-token:{token}")),
        ] {
            let out = text(&format!("server said: {leak}!"));
            assert_eq!(out, "server said: ***!", "{leak}");
        }
    }

    #[test]
    fn a_key_is_hidden_line_by_line() {
        let key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\nshort\n-----END KEY-----\n";
        register(key);
        let out = text("line: AAAAB3NzaC1yc2EAAAADAQABAAABAQ; short stays");
        assert_eq!(out, "line: ***; short stays");
        assert_eq!(text(&serde_json::to_string(key).unwrap()), "\"***\"");
    }

    #[test]
    fn urls_are_printed_without_userinfo_or_query() {
        assert_eq!(
            url("https://user:pw@git.example:8443/a/b.git?private_token=x#f"),
            "https://git.example:8443/a/b.git"
        );
        assert_eq!(url("https://tok en@host/x?q"), "https://host/x");
        // Not a URL at all: still nothing before the '@' or after the '?'.
        assert_eq!(url("https://tok en@ho st/x?q"), "https://***@ho st/x");
        assert_eq!(
            url("git@github.com:acme/env.git"),
            "***@github.com:acme/env.git"
        );
        assert_eq!(url("/srv/env.git"), "/srv/env.git");
    }
}
