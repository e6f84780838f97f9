//! iter8-gitops: the Env repo side of an Iter8 experiment in a GitOps setup. `finish` makes the
//! Env repo record the outcome (the winner becomes the baseline, the experiment's files go),
//! opens or updates one pull request, and server-side applies the final manifests; `start`
//! renders the experiment's files from templates, as CI does when a new version is built.
//!
//! `run` is the whole flow, in the order of the contract: validate (in `main`), experiment
//! context, token, fetch, plan, commit, push, pull request, Argo CD refresh, apply, Event,
//! report. Every decision is made by the pure planners (`plan`, `start`) before the first write.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod git;
pub mod host;
pub mod kube;
pub(crate) mod limits;
pub mod logging;
pub mod plan;
pub(crate) mod retry;
pub mod run;
pub mod serve;
pub(crate) mod text;
pub mod trust;

pub use error::Error;
pub use run::run;
