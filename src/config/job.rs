//! What the run plans, decided once from the inputs: a finish by the variables' rules (the
//! winner given, or named by a variable of the Experiment's recommended version), a start,
//! a promotion file, or one of its targets. The run resolves only what needs the cluster:
//! the Experiment's winner.

use super::task::Promotion;
use crate::{
    kube::experiment::ExperimentRef,
    plan::{self, edits::EditSpec, names::RepoPath},
};

/// What the run plans.
#[derive(Debug, Clone)]
pub enum Job {
    /// finish by GITOPS_WINNER (or the Experiment), GITOPS_BASELINE, GITOPS_REPLACE,
    /// GITOPS_REMOVE and GITOPS_APPLY.
    Finish(plan::Rules<Winner>),
    /// start: the experiment's files rendered from the templates.
    Start(plan::start::Rules),
    /// A promotion file: its targets are read when the run starts, each then an `Edits`.
    Promotion(Promotion),
    /// A promotion file's target (or several on one repo and branch, as one commit).
    Edits(Target),
}

/// How a finish learns its winner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Winner {
    /// GITOPS_WINNER: Iter8's `{{ .filepath }}`.
    Given(RepoPath),
    /// The Experiment's recommended version's variable of this name (GITOPS_WINNER_VARIABLE)
    /// holds the file.
    FromExperiment {
        experiment: ExperimentRef,
        variable: String,
    },
}

/// One target of a promotion file (or several on one repo and branch, as one commit).
#[derive(Debug, Clone)]
pub struct Target {
    /// `targets[N] (name)`, for the report and messages.
    pub label: String,
    pub edits: Vec<EditSpec>,
    /// Files to apply, from the repo root.
    pub apply: Vec<RepoPath>,
}

impl Job {
    /// True for `start`; every other job is a finish.
    pub fn starts(&self) -> bool {
        matches!(self, Job::Start(_))
    }

    /// The single finish's rules (not a start's, not a promotion file's).
    pub fn finish_rules(&self) -> Option<&plan::Rules<Winner>> {
        match self {
            Job::Finish(r) => Some(r),
            _ => None,
        }
    }
}
