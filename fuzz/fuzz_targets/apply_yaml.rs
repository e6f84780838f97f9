//! GITOPS_APPLY files come from the Env repo, which anyone with push access shapes. Splitting
//! them into objects must never panic or hang (alias bombs, deep nesting), and every object it
//! returns must be one the API server could be asked to apply.
#![no_main]

use iter8_gitops::{plan::names::RepoPath, plan::parse_objects};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let path = RepoPath::parse("env/istio-vs.yaml").unwrap();
    if let Ok(objects) = parse_objects(&path, text) {
        for o in objects {
            assert!(!o.api_version.is_empty() && !o.kind.is_empty() && !o.name.is_empty());
            assert!(!o.kind.ends_with("List"));
            assert!(o.body.get().starts_with('{'), "an object's body is a JSON object");
            assert_eq!(o.file, path);
        }
    }
});
