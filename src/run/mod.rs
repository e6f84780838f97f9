//! The run: the flow in the order of the contract, one step per function, each step's span
//! giving its timing. `run` builds the shared [`Context`] once, keeps the deadline, and tells
//! the cluster about a failure once; `single` is one promotion (or start), `targets` a
//! promotion file's commits.
//!
//! single: experiment → credentials → fetch → plan → commit → push (again when the branch
//! moved) → pull request → Argo CD → apply → Event → report.

pub(crate) mod context;
pub(crate) mod deploy;
pub(crate) mod job;
pub(crate) mod local;
pub(crate) mod merge;
pub(crate) mod outcome;
pub mod outputs;
pub(crate) mod pr_body;
pub(crate) mod promote;
pub(crate) mod pull_request;
pub mod report;
pub(crate) mod single;
pub(crate) mod status;
pub(crate) mod subject;
pub mod targets;
pub(crate) mod timings;

use std::{sync::Arc, time::Instant};

use context::Context;
use report::Report;

use crate::{
    Error,
    config::{Config, Job},
    kube::cluster::Cluster,
    retry,
};

/// Runs one task within the configured deadline; a failure is also told as an Event (a
/// promotion file tells one per failed commit instead).
pub async fn run(cfg: Config) -> Result<Report, Error> {
    let deadline = cfg.limits.timeout;
    let end = Instant::now() + deadline;
    let cluster = Arc::new(Cluster::new(cfg.limits.io_timeout()));
    let work = async {
        let ctx = Arc::new(Context::new(&cfg, cluster.clone())?);
        match &cfg.job {
            Job::Promotion(p) => targets::run(ctx, &cfg, p, end).await,
            _ => single::single(&ctx, &cfg).await,
        }
    };
    let result = match tokio::time::timeout(deadline, retry::within(end, work)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Deadline(deadline)),
    };
    // After the deadline nothing more is sent, not even the failure Event (the Job's status
    // and the termination log say it).
    if let Err(e) = &result
        && !matches!(cfg.job, Job::Promotion(_))
        && !matches!(e, Error::Deadline(_))
    {
        outcome::tell_failure(&cluster, &cfg, None, e).await;
    }
    result
}
