//! Configuration comes from an environment anyone writing the Experiment controls. Whatever the
//! variables hold, validation must not panic, must answer with either a config or a list of
//! problems that each name a variable, and must never print the token.
#![no_main]

use arbitrary::Arbitrary;
use iter8_gitops::config::{Args, Config};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Name {
    /// One of the variables the tool knows (index into the list), so most inputs get past
    /// the unknown-name check and reach the validators.
    Known(u8),
    Experiment(bool),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    vars: Vec<(Name, String)>,
}

fuzz_target!(|input: Input| {
    let known = Args::variable_names();
    let vars: Vec<(String, String)> = input
        .vars
        .into_iter()
        .map(|(n, v)| {
            let name = match n {
                Name::Known(i) => known[i as usize % known.len()].clone(),
                Name::Experiment(true) => "EXPERIMENT_NAME".into(),
                Name::Experiment(false) => "EXPERIMENT_NAMESPACE".into(),
                Name::Raw(s) => s,
            };
            (name, v)
        })
        .collect();
    let args = match Args::from_env(vars.clone()) {
        Ok(a) => a,
        Err(e) => {
            assert!(!e.problems.is_empty());
            return;
        }
    };
    let token = args.token.as_ref().map(|t| t.expose().to_string());
    let shown = match Config::try_from(args.clone()) {
        Ok(c) => format!("{c:?} {args:?}"),
        Err(e) => {
            assert!(!e.problems.is_empty());
            format!("{e} {e:?} {args:?}")
        }
    };
    // The token must not show, unless its text is there for another reason: the same run
    // without a token shows it too (a field name, a default, another variable's value).
    if let Some(t) = token.filter(|t| t.len() >= 8) {
        let mut without = args.clone();
        without.token = None;
        let baseline = match Config::try_from(without.clone()) {
            Ok(c) => format!("{c:?} {without:?}"),
            Err(e) => format!("{e} {e:?} {without:?}"),
        };
        assert!(
            baseline.contains(&t) || !shown.contains(&t),
            "token shown: {shown}"
        );
    }
});
