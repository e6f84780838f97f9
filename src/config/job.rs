//! What the run plans, decided once from the inputs: a finish by the variables' rules (the
//! winner given, or named by a variable of the Experiment's recommended version), a start,
//! a promotion file, or one of its targets. The run resolves only what needs the cluster:
//! the Experiment's winner.

use std::collections::BTreeMap;

use super::{receiver::Receiver, task::Promotion};
use crate::{
    kube::{events::Regarding, experiment::ExperimentRef, workload::WorkloadRef},
    plan::{self, edits::EditSpec, evidence::Evidence, names::RepoPath},
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
    /// The receiver: a promotion file whose targets each name a workload, run when the
    /// cluster says that workload's rollout failed.
    Serve(Receiver),
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
    /// The workload whose failed rollout this target puts back (the receiver's targets).
    pub workload: Option<WorkloadRef>,
    /// What the cluster said, once the receiver has read it: the run's variables, evidence
    /// and the object its Events are about.
    pub cause: Option<Box<Cause>>,
}

/// Why the receiver runs a target: a failed rollout, as the cluster told it.
#[derive(Debug, Clone)]
pub struct Cause {
    /// `${stable.image}` and the rest (`plan::revert::vars`).
    pub vars: BTreeMap<String, String>,
    pub evidence: Evidence,
    /// The Canary or Rollout, for the Events.
    pub regarding: Regarding,
}

impl Job {
    /// True for `start`; every other job is a finish.
    pub fn starts(&self) -> bool {
        matches!(self, Job::Start(_))
    }

    /// The cause of a receiver's run, if this is one.
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            Job::Edits(t) => t.cause.as_deref(),
            _ => None,
        }
    }

    /// The single finish's rules (not a start's, not a promotion file's).
    pub fn finish_rules(&self) -> Option<&plan::Rules<Winner>> {
        match self {
            Job::Finish(r) => Some(r),
            _ => None,
        }
    }
}
