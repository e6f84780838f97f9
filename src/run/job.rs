//! What a run plans on each fetched tree: finish's rules (the winner resolved), start's
//! templates, or a promotion file's edits, as `config::Job` decided. Pure: it calls the
//! planners and names the blobs they read.

use super::subject::Subject;
use crate::{
    Error,
    config::{self, Config},
    plan::{self, Rules, edits, names::RepoPath, start},
};

/// The config's job with what the cluster told (the Experiment's winner, its variables).
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
    /// The job `cfg` decided, for the run's `subject`.
    pub fn new(cfg: &Config, subject: &Subject) -> Result<Job, Error> {
        Ok(match (&cfg.job, &subject.winner) {
            (config::Job::Finish(rules), Some(winner)) => {
                Job::Finish(rules.clone().with_winner(winner.clone()))
            }
            (config::Job::Start(rules), _) => Job::Start(rules.clone()),
            (config::Job::Edits(t), _) => Job::Edits {
                edits: t.edits.clone(),
                apply: t.apply.clone(),
                vars: subject.vars.clone(),
            },
            // `subject::read` gives a finish its winner; a promotion file runs its targets.
            (config::Job::Finish(_), None)
            | (config::Job::Promotion(_) | config::Job::Serve(_), _) => {
                return Err(Error::Internal(
                    "a job with no planner of its own reached planning".into(),
                ));
            }
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
