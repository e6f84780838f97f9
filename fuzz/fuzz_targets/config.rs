//! Configuration comes from an environment anyone writing the Experiment controls. Whatever the
//! variables hold, validation must not panic, must answer with either a config or a list of
//! problems that each name a variable, and must never print the token.
//!
//! With an in-repo promotion file (whoever can merge into the Env repo writes it), whatever
//! the file holds: no panic, and every target it yields keeps the operator's repo, branch,
//! token Secret, API, provider, PR repo and PR branch, and never pushes where the operator
//! asked for a pull request: the file is data, never authority.
#![no_main]

use arbitrary::Arbitrary;
use iter8_gitops::{
    config::{Args, Config, Mode},
    config::{
        allow::Allow,
        promotion::{self, Author},
    },
};
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
    /// GITOPS_CONFIG_IN_REPO's text, as the Env repo holds it.
    in_repo: Option<String>,
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
    if let Some(text) = &input.in_repo {
        in_repo_file_widens_nothing(&args, text);
    }
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

fn in_repo_file_widens_nothing(args: &Args, text: &str) {
    let Ok(file) = promotion::parse("GITOPS_CONFIG_IN_REPO", text) else {
        return;
    };
    let mut base = args.clone();
    base.config = None;
    base.config_in_repo = None;
    // The operator's own target: what every in-repo target must keep.
    let Ok(operator) = Config::try_from_target(base.clone()) else {
        return;
    };
    match promotion::configs(args, &file, Author::Repo(&Allow::default())) {
        Ok(targets) => {
            for t in targets {
                assert_eq!(t.repo.location, operator.repo.location);
                assert_eq!(t.repo.branch, operator.repo.branch);
                assert_eq!(t.auth.token_secret, operator.auth.token_secret);
                assert_eq!(t.pr.api, operator.pr.api);
                assert_eq!(t.pr.repo, operator.pr.repo);
                assert_eq!(t.pr.branch, operator.pr.branch);
                assert!(t.mode == operator.mode || t.mode == Mode::PullRequest);
            }
        }
        Err(e) => assert!(e.problems.iter().all(|p| !p.input.is_empty())),
    }
}
