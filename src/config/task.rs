//! What the run does: the task (finish or start), where the change goes (GITOPS_MODE), and
//! by which rules finish promotes: the variables (winner, baseline, replace, remove, apply)
//! or a promotion file. `job.rs` holds what these decide.

use std::path::PathBuf;

use super::{
    allow::{self, Allow},
    args::Args,
    check::Check,
    defaults,
};
use crate::plan::{self, names::RepoPath};

/// Where the change goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A PR branch (GITOPS_PR_BRANCH) and one pull request into GITOPS_BRANCH.
    #[default]
    PullRequest,
    /// Straight onto GITOPS_BRANCH, for teams without PR review; no pull request.
    Push,
}

/// Where the promotion file is, with what its targets need to be validated once it is read.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub source: PromotionSource,
    /// The operator's inputs, which every target starts from. Kept as typed because a target
    /// is validated as the operator's inputs with its fields over them, and an in-repo file can
    /// only be read after the run has fetched it. Read by `Promotion::targets` alone.
    pub(super) base: Box<Args>,
    /// GITOPS_IN_REPO_ALLOW: what an in-repo file may set beyond the operator's values.
    pub allow: Allow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotionSource {
    /// A file on this machine (a ConfigMap mounted into the Job, say).
    File(PathBuf),
    /// A file in the Env repo, read from GITOPS_BRANCH.
    InRepo(RepoPath),
}

/// GITOPS_TASK's values (the schema's `enum`; a test holds the validator to them).
pub(crate) const TASKS: [&str; 3] = ["finish", "start", "serve"];
/// GITOPS_MODE's values.
pub(crate) const MODES: [&str; 2] = ["pr", "push"];

/// GITOPS_TASK: `true` for start.
pub(super) fn starting(c: &mut Check, a: &Args) -> bool {
    match c.value("GITOPS_TASK", &a.task).as_deref() {
        None | Some("finish" | "serve") => false,
        Some("start") => true,
        Some(other) => {
            c.bad(
                "GITOPS_TASK",
                format!(
                    "{other:?} is not finish, start or serve (iter8-gitops start, iter8-gitops finish, iter8-gitops serve)"
                ),
            );
            false
        }
    }
}

/// GITOPS_TASK `serve`: the receiver.
pub(super) fn serving(a: &Args) -> bool {
    a.task.as_deref().map(str::trim) == Some("serve")
}

/// GITOPS_MODE; CI usually owns the synced branch, so `start` pushes unless told otherwise.
pub(super) fn mode(c: &mut Check, a: &Args, starting: bool) -> Mode {
    match c.value("GITOPS_MODE", &a.mode).as_deref() {
        None if starting => Mode::Push,
        None | Some("pr") => Mode::PullRequest,
        Some("push") => Mode::Push,
        Some(other) => {
            c.bad("GITOPS_MODE", format!("{other:?} is not pr or push"));
            Mode::PullRequest
        }
    }
}

/// GITOPS_CONFIG or GITOPS_CONFIG_IN_REPO (one of them), and GITOPS_IN_REPO_ALLOW. `target`:
/// validating a promotion file's target, which has no file of its own.
pub(super) fn promotion(c: &mut Check, a: &Args, target: bool) -> Option<Promotion> {
    let file = c.value("GITOPS_CONFIG", &a.config);
    let in_repo = c
        .value("GITOPS_CONFIG_IN_REPO", &a.config_in_repo)
        .and_then(|v| c.path("GITOPS_CONFIG_IN_REPO", &v));
    if file.is_some() && in_repo.is_some() {
        c.bad(
            "GITOPS_CONFIG_IN_REPO",
            "is set together with GITOPS_CONFIG; give one promotion file",
        );
    }
    let allow = allow::validate(c, a, target);
    let source = match (target, file, in_repo) {
        (false, Some(f), _) => PromotionSource::File(PathBuf::from(f)),
        (false, None, Some(p)) => PromotionSource::InRepo(p),
        _ => return None,
    };
    Some(Promotion {
        source,
        base: Box::new(a.clone()),
        allow,
    })
}

/// The single finish's rules (the winner when given, and the Experiment's variable that names
/// it otherwise), validated in any case; `None` unless the run is one (and its inputs are
/// valid). `promoting`: a promotion file or one of its targets gives the rules instead;
/// `from_file`: a file does, so the variables must not. `dir`: GITOPS_DIR, when valid.
pub(super) fn rules(
    c: &mut Check,
    a: &Args,
    (starting, promoting, from_file): (bool, bool, bool),
    dir: Option<&RepoPath>,
) -> Option<(plan::Rules<Option<RepoPath>>, String)> {
    if from_file {
        for (input, v) in [
            ("GITOPS_WINNER", &a.winner),
            ("GITOPS_BASELINE", &a.baseline),
            ("GITOPS_REPLACE", &a.replace),
            ("GITOPS_REMOVE", &a.remove),
            ("GITOPS_APPLY", &a.apply),
        ] {
            if v.is_some() {
                c.bad(
                    input,
                    "is set together with a promotion file; put it in the file's targets (edits, apply) instead",
                );
            }
        }
    }
    let winner = c
        .value("GITOPS_WINNER", &a.winner)
        .and_then(|v| c.path("GITOPS_WINNER", &v));
    // `start` and promotion files promote by other rules: no baseline.
    let baseline = if (starting || promoting) && a.baseline.is_none() {
        None
    } else {
        c.required(
            "GITOPS_BASELINE",
            &a.baseline,
            "the baseline manifest the winner becomes, e.g. productpage.yaml",
        )
        .and_then(|v| c.path("GITOPS_BASELINE", &v))
    };
    let replace = replacements(c, a);
    let remove = c.path_list("GITOPS_REMOVE", &a.remove);
    let apply = c.path_list("GITOPS_APPLY", &a.apply);
    if !starting
        && !promoting
        && a.winner.is_none()
        && a.experiment_name.is_none()
        && a.experiment_namespace.is_none()
    {
        c.bad(
            "GITOPS_WINNER",
            "is required when EXPERIMENT_NAME and EXPERIMENT_NAMESPACE are not set; pass Iter8's {{ .filepath }} or run inside the Iter8 handler",
        );
    }
    if starting && promoting {
        c.bad("GITOPS_CONFIG", "is for finish; `start` renders templates");
    }
    let variable = c
        .value("GITOPS_WINNER_VARIABLE", &a.winner_variable)
        .unwrap_or_else(|| defaults::WINNER_VARIABLE.into());
    if starting || promoting {
        return None;
    }
    let rules = plan::Rules {
        dir: dir?.clone(),
        winner,
        baseline: baseline?,
        replace,
        remove,
        apply,
        // The Experiment, once the cluster's inputs are read (`Config::validate`).
        experiment: None,
    };
    Some((rules, variable))
}

/// GITOPS_REPLACE: comma-separated FROM=TO.
fn replacements(c: &mut Check, a: &Args) -> Vec<(String, String)> {
    let mut replace = vec![];
    let Some(v) = &a.replace else { return replace };
    if v.contains('\0') {
        c.bad("GITOPS_REPLACE", "contains a NUL byte; remove it");
    }
    for pair in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match pair.split_once('=') {
            Some((from, to)) if !from.is_empty() => {
                replace.push((from.to_string(), to.to_string()))
            }
            _ => c.bad(
                "GITOPS_REPLACE",
                format!("{pair:?} is not FROM=TO with a non-empty FROM; e.g. candidate=stable"),
            ),
        }
    }
    replace
}

/// GITOPS_VERSION, GITOPS_TEMPLATES and GITOPS_SET: required or allowed only for `start`.
/// The start's rules when the run is one; `dir`: GITOPS_DIR, when valid.
pub(super) fn start(
    c: &mut Check,
    a: &Args,
    starting: bool,
    dir: Option<&RepoPath>,
) -> Option<plan::start::Rules> {
    if !starting {
        for (input, v) in [
            ("GITOPS_VERSION", &a.version),
            ("GITOPS_TEMPLATES", &a.templates),
            ("GITOPS_SET", &a.set),
        ] {
            if v.is_some() {
                c.bad(input, "is only read by `iter8-gitops start`");
            }
        }
        return None;
    }
    let version = c
        .required(
            "GITOPS_VERSION",
            &a.version,
            "the candidate's version, e.g. the app repo's short commit (git rev-parse --short HEAD)",
        )
        .unwrap_or_default();
    // It ends up in object names (DNS-1123) and in a `version: v…` label value (63 chars).
    if !version.is_empty()
        && (version.len() > 40
            || !version
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            || !version.as_bytes()[0].is_ascii_alphanumeric()
            || !version.as_bytes()[version.len() - 1].is_ascii_alphanumeric())
    {
        c.bad(
            "GITOPS_VERSION",
            format!("{version:?} cannot go into object names and labels: use at most 40 lowercase letters, digits, '-' or '.', starting and ending alphanumeric"),
        );
    }
    let templates = match c.value("GITOPS_TEMPLATES", &a.templates) {
        Some(v) => c.path("GITOPS_TEMPLATES", v.trim_end_matches('/')),
        None => Some(RepoPath::parse(defaults::TEMPLATES).expect("constant path")),
    };
    let mut set = vec![];
    for pair in a
        .set
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match pair.split_once('=') {
            Some((k, v))
                if !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !k.as_bytes()[0].is_ascii_digit() =>
            {
                if set.iter().any(|(x, _): &(String, String)| x == k) {
                    c.bad("GITOPS_SET", format!("{k} is given twice"));
                }
                set.push((k.to_string(), v.to_string()))
            }
            _ => c.bad(
                "GITOPS_SET",
                format!(
                    "{pair:?} is not KEY=VALUE with KEY of letters, digits and '_'; e.g. COLOR=red"
                ),
            ),
        }
    }
    Some(plan::start::Rules {
        dir: dir?.clone(),
        templates: templates?,
        version,
        set,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_and_mode_default_as_the_contract_says() {
        // (GITOPS_TASK, GITOPS_MODE) → (starting, mode), or the input with a problem.
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Result<(bool, Mode), &'a str>,
        );
        let table: &[Row] = &[
            (None, None, Ok((false, Mode::PullRequest))),
            (Some("start"), None, Ok((true, Mode::Push))),
            (Some("start"), Some("pr"), Ok((true, Mode::PullRequest))),
            (Some("finish"), Some("push"), Ok((false, Mode::Push))),
            (Some("stop"), None, Err("GITOPS_TASK")),
            (None, Some("merge"), Err("GITOPS_MODE")),
        ];
        for (task, mode, want) in table {
            let a = Args {
                task: task.map(String::from),
                mode: mode.map(String::from),
                ..Args::default()
            };
            let mut c = Check { problems: vec![] };
            let s = starting(&mut c, &a);
            let m = self::mode(&mut c, &a, s);
            let got = match c.problems.first() {
                Some(p) => Err(p.input.as_str()),
                None => Ok((s, m)),
            };
            assert_eq!(got, *want, "{task:?} {mode:?}");
        }
    }
}
