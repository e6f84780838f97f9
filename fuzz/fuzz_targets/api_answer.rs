//! A Git host's error answer comes from the server (or whatever answers in its place): the
//! one line the run shows of it must never panic, whatever the bytes, and a body that is not
//! JSON shows at most its first 200 characters.
#![no_main]

use iter8_gitops::host::message_of;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let line = message_of(&text);
    // Not JSON for sure (JSON starts with one of these): at most 200 characters shown.
    if !text.trim_start().starts_with(['{', '[', '"', 'n', 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
        assert!(line.chars().count() <= 200);
    }
});
