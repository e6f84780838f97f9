//! What a run plans on each fetched tree: finish's rules, start's templates, or a promotion
//! file's edits. Pure: it calls the planners and names the blobs they read.

use super::subject::Subject;
use crate::{
    Error,
    config::{Config, Task},
    plan::{self, Rules, edits, names::RepoPath, start},
};

pub enum Job {
    Finish(Rules),
    Start(start::Rules),
    /// A promotion file's target(s): edits and apply paths from the repo root.
    Edits {
        edits: Vec<edits::EditSpec>,
        apply: Vec<RepoPath>,
        vars: edits::Vars,
    },
}

impl Job {
    /// The job `cfg` describes, for the run's `subject`.
    pub fn new(cfg: &Config, subject: &Subject) -> Result<Job, Error> {
        let dir = cfg.repo.dir.clone();
        Ok(match (&cfg.task, &cfg.target) {
            (Task::Finish, Some(t)) => Job::Edits {
                edits: t.edits.clone(),
                apply: t.apply.clone(),
                vars: subject.vars.clone(),
            },
            (Task::Finish, None) => Job::Finish(Rules {
                dir,
                // Given, or read from the Experiment (subject::read); validation wants one.
                winner: subject.winner.clone().ok_or_else(|| {
                    Error::Internal("a single finish without a winner passed validation".into())
                })?,
                baseline: cfg.rules.baseline.clone(),
                replace: cfg.rules.replace.clone(),
                remove: cfg.rules.remove.clone(),
                apply: cfg.rules.apply.clone(),
                experiment: cfg.cluster.experiment.as_ref().map(|e| e.name.clone()),
            }),
            (Task::Start(s), _) => Job::Start(start::Rules {
                dir,
                templates: s.templates.clone(),
                version: s.version.clone(),
                set: s.set.clone(),
            }),
        })
    }

    pub fn plan(&self, snap: &dyn plan::Snapshot) -> Result<plan::Plan, Error> {
        match self {
            Job::Finish(r) => Ok(plan::plan(snap, r)?),
            Job::Start(r) => Ok(start::plan(snap, r)?),
            Job::Edits { edits, apply, vars } => {
                Ok(edits::plan(snap, &RepoPath::root(), edits, vars, apply)?)
            }
        }
    }

    /// The blobs the planner reads (`dir/` for every file directly in a folder).
    pub fn paths(&self) -> Vec<String> {
        match self {
            Job::Finish(r) => [&r.winner, &r.baseline]
                .into_iter()
                .chain(&r.remove)
                .chain(&r.apply)
                .map(|p| r.dir.join(p).as_str().to_string())
                .collect(),
            Job::Edits { edits, apply, vars } => edits
                .iter()
                .flat_map(edits::EditSpec::files)
                .map(|f| vars.expand(&f).unwrap_or(f))
                .chain(apply.iter().map(|a| a.to_string()))
                .collect(),
            Job::Start(r) => vec![
                format!("{}/", r.dir.join(&r.templates)),
                if r.dir.is_root() {
                    "/".into()
                } else {
                    format!("{}/", r.dir)
                },
            ],
        }
    }
}
