//! The receive-pack report is the server's word that a push landed. Whatever bytes come back,
//! the parser must not panic, and it may say "updated" only for a report that really says so:
//! `unpack ok` first, an `ok` for our ref, and no `ng` for it.
#![no_main]

use iter8_gitops::git::{Report, parse_report};
use libfuzzer_sys::fuzz_target;

const REF: &str = "refs/heads/iter8/promote";

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let report = parse_report(lines.iter().copied(), REF);
    let text = |l: &[u8]| {
        String::from_utf8_lossy(l)
            .trim_end_matches('\r')
            .to_string()
    };
    if report == Report::Updated {
        assert_eq!(text(lines[0]), "unpack ok");
        assert!(lines.iter().any(|l| text(l) == format!("ok {REF}")));
        assert!(!lines.iter().any(|l| {
            let t = text(l);
            t == format!("ng {REF}") || t.starts_with(&format!("ng {REF} "))
        }));
    }
});
