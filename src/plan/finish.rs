//! The finish planner: the winner becomes the baseline (with GITOPS_REPLACE), the
//! experiment's files go, the apply files are read from the tree as it will be.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{
    diff::render_diff,
    expansion,
    model::{Edit, Entry, Error, Object, Plan, Snapshot, kind_name, lookup, read_text},
    objects::ApplyBudget,
};
use crate::plan::names::RepoPath;

/// The rules of one promotion, all paths relative to `dir`. `W`, the winner: its file (what
/// the planner reads), or before the run knows it, how to learn it (`config::Winner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules<W = RepoPath> {
    pub dir: RepoPath,
    pub winner: W,
    pub baseline: RepoPath,
    pub replace: Vec<(String, String)>,
    pub remove: Vec<RepoPath>,
    pub apply: Vec<RepoPath>,
    /// The Experiment this run finishes, when known: if the Env repo's experiment manifest
    /// (among `remove`) names another one, a newer experiment has replaced it (CI started
    /// the next version) and nothing may be promoted.
    pub experiment: Option<String>,
}

impl<W> Rules<W> {
    /// The same rules with the winner known (read from the Experiment, say).
    pub fn with_winner<V>(self, winner: V) -> Rules<V> {
        let Rules {
            dir,
            baseline,
            replace,
            remove,
            apply,
            experiment,
            winner: _,
        } = self;
        Rules {
            dir,
            winner,
            baseline,
            replace,
            remove,
            apply,
            experiment,
        }
    }
}

/// The name of the Iter8 Experiment a manifest declares, if it declares one.
fn experiment_in(text: &str) -> Option<String> {
    // Measured first: a file to delete may still be an alias bomb.
    expansion::measure(text, expansion::Budget::default()).ok()?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).ok()?;
    docs.into_iter().find_map(|d| {
        let is_iter8 = d["apiVersion"].as_str()?.starts_with("iter8.tools/");
        (is_iter8 && d["kind"] == "Experiment")
            .then(|| d["metadata"]["name"].as_str().map(str::to_string))
            .flatten()
    })
}

/// Applies literal `FROM=TO` replacements in order (the seed's `sed 's/candidate/stable/g'`
/// is `candidate=stable`).
pub fn rewrite(text: &str, replace: &[(String, String)]) -> String {
    replace.iter().fold(text.to_string(), |t, (from, to)| {
        t.replace(from.as_str(), to)
    })
}

/// Decides the promotion on `snap` with `rules`.
pub fn plan(snap: &dyn Snapshot, rules: &Rules) -> Result<Plan, Error> {
    check_dir(snap, &rules.dir)?;
    if let Some(reason) = superseded(snap, rules) {
        return Ok(Plan {
            edits: vec![],
            diff: String::new(),
            objects: vec![],
            warnings: vec![],
            unchanged_reason: Some(reason),
        });
    }
    let baseline = rules.dir.join(&rules.baseline);
    let mut warnings = vec![];
    let promoted = promote(snap, rules, &mut warnings)?;
    let mut edits: Vec<Edit> = promoted.write.into_iter().collect();
    let removed = removals(snap, rules, &baseline)?;
    edits.extend(removed.iter().cloned().map(|path| Edit::Delete { path }));
    let objects = objects(snap, rules, &baseline, promoted.baseline, &removed)?;
    let diff = render_diff(snap, &edits);
    let unchanged_reason = promoted.already.or_else(|| {
        edits.is_empty().then(|| {
            "the baseline already holds the winner and the experiment's files are gone".into()
        })
    });
    Ok(Plan {
        edits,
        diff,
        objects,
        unchanged_reason,
        warnings,
    })
}

/// GITOPS_DIR must be a folder on the branch.
fn check_dir(snap: &dyn Snapshot, dir: &RepoPath) -> Result<(), Error> {
    if dir.is_root() {
        return Ok(());
    }
    match lookup(snap, "GITOPS_DIR", dir)? {
        Some(Entry::Dir) => Ok(()),
        Some(e) => Err(Error::NotAFile {
            input: "GITOPS_DIR",
            path: dir.to_string(),
            what: kind_name(&e),
        }),
        None => Err(Error::DirNotFound {
            dir: dir.to_string(),
        }),
    }
}

/// Why nothing may be promoted: the Env repo's experiment manifest (among `remove`) names
/// another Experiment than this run's (CI started the next version).
fn superseded(snap: &dyn Snapshot, rules: &Rules) -> Option<String> {
    let name = rules.experiment.as_ref()?;
    rules.remove.iter().find_map(|r| {
        let path = rules.dir.join(r);
        let Ok(Some(Entry::File(bytes))) = lookup(snap, "GITOPS_REMOVE", &path) else {
            return None;
        };
        let other = std::str::from_utf8(&bytes).ok().and_then(experiment_in)?;
        (other != *name).then(|| format!(
            "superseded: {path} now declares experiment {other:?}, not {name:?} (a newer version was started); nothing is promoted or applied"
        ))
    })
}

/// The winner's text as the baseline's.
struct Promoted {
    /// The baseline's new content, when it changes.
    write: Option<Edit>,
    /// The baseline's text after the promotion (for apply files that name it).
    baseline: Option<String>,
    /// Set when the promotion is already done (a rerun after the merge).
    already: Option<String>,
}

/// The winner becomes the baseline; a missing winner is fine only when the promotion is
/// already done.
fn promote(
    snap: &dyn Snapshot,
    rules: &Rules,
    warnings: &mut Vec<String>,
) -> Result<Promoted, Error> {
    let winner_path = rules.dir.join(&rules.winner);
    let baseline_path = rules.dir.join(&rules.baseline);
    let baseline_old = read_text(snap, "GITOPS_BASELINE", &baseline_path)?;
    let Some(winner) = read_text(snap, "GITOPS_WINNER", &winner_path)? else {
        if rules.winner != rules.baseline && baseline_old.is_some() && all_removed(snap, rules) {
            return Ok(Promoted {
                write: None,
                baseline: baseline_old,
                already: Some(format!(
                    "the winner {winner_path} and the experiment's files are gone and the baseline {baseline_path} is in place: already promoted"
                )),
            });
        }
        return Err(Error::NotFound {
            input: "GITOPS_WINNER",
            path: winner_path.to_string(),
        });
    };
    // A FROM that never occurs is most likely a typo: the baseline would silently become the
    // candidate's text with its candidate names.
    for (from, to) in &rules.replace {
        if !winner.contains(from.as_str()) {
            warnings.push(format!(
                "GITOPS_REPLACE {from}={to}: {from:?} does not occur in {winner_path}, so nothing was replaced; check the pattern"
            ));
        }
    }
    let new = rewrite(&winner, &rules.replace);
    check_yaml("GITOPS_WINNER", &winner_path, &new)?;
    let write = (baseline_old.as_deref() != Some(new.as_str())).then(|| Edit::Write {
        path: baseline_path,
        content: new.clone().into_bytes(),
    });
    Ok(Promoted {
        write,
        baseline: Some(new),
        already: None,
    })
}

/// A manifest the promotion writes must be YAML (JSON is YAML), within the expansion budget:
/// Argo CD would fail to sync anything else, after the merge. Files with other endings
/// (a `.txt`, a `.conf`) are text the promotion copies as it is.
fn check_yaml(input: &'static str, path: &RepoPath, text: &str) -> Result<(), Error> {
    let p = path.as_str();
    if !(p.ends_with(".yaml") || p.ends_with(".yml") || p.ends_with(".json")) {
        return Ok(());
    }
    expansion::measure(text, expansion::Budget::default())
        .map(|_| ())
        .map_err(|reason| Error::NotYaml {
            input,
            path: path.to_string(),
            reason,
        })
}

/// A rerun after the PR was merged: the experiment's files are gone. (A remove entry naming
/// the baseline itself is never deleted: skip it here too, as `removals` does; found by the
/// planner fuzzer.)
fn all_removed(snap: &dyn Snapshot, rules: &Rules) -> bool {
    let baseline = rules.dir.join(&rules.baseline);
    !rules.remove.is_empty()
        && rules
            .remove
            .iter()
            .map(|r| rules.dir.join(r))
            .filter(|p| *p != baseline)
            .all(|p| matches!(lookup(snap, "GITOPS_REMOVE", &p), Ok(None)))
}

/// The experiment's files that are there to delete, in order, each once.
fn removals(
    snap: &dyn Snapshot,
    rules: &Rules,
    baseline: &RepoPath,
) -> Result<Vec<RepoPath>, Error> {
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for r in &rules.remove {
        let path = rules.dir.join(r);
        // A file to delete inside the baseline's path, or a folder holding the baseline, would
        // exist or not depending on whether this run wrote the baseline yet: the rerun would
        // disagree with the first run (found by the planner fuzzer). Refuse it outright.
        let inside = |a: &RepoPath, b: &RepoPath| {
            a.as_str()
                .strip_prefix(b.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        };
        if inside(&path, baseline) || inside(baseline, &path) {
            return Err(Error::Overlap {
                path: path.to_string(),
                baseline: baseline.to_string(),
            });
        }
        if path == *baseline || !seen.insert(path.clone()) {
            continue;
        }
        match lookup(snap, "GITOPS_REMOVE", &path)? {
            None => {}
            Some(Entry::File(_) | Entry::Unavailable | Entry::TooLarge(_)) => out.push(path),
            Some(e) => {
                return Err(Error::NotAFile {
                    input: "GITOPS_REMOVE",
                    path: path.to_string(),
                    what: kind_name(&e),
                });
            }
        }
    }
    Ok(out)
}

/// The apply files' objects, read from the tree as the promotion leaves it.
fn objects(
    snap: &dyn Snapshot,
    rules: &Rules,
    baseline: &RepoPath,
    final_baseline: Option<String>,
    removed: &[RepoPath],
) -> Result<Vec<Object>, Error> {
    let mut objects = vec![];
    let mut budget = ApplyBudget::default();
    for a in &rules.apply {
        let path = rules.dir.join(a);
        let text = if path == *baseline {
            final_baseline.clone()
        } else if removed.contains(&path) {
            None
        } else {
            read_text(snap, "GITOPS_APPLY", &path)?
        };
        let text = text.ok_or_else(|| Error::NotFound {
            input: "GITOPS_APPLY",
            path: path.to_string(),
        })?;
        let found = budget.parse(&path, &text)?;
        if found.is_empty() {
            return Err(Error::NoObjects {
                path: path.to_string(),
            });
        }
        objects.extend(found);
    }
    Ok(objects)
}
