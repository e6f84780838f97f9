//! Pull requests on the Git host. One implementation per host kind (GitHub and GitHub
//! Enterprise Server, GitLab, Gitea and Forgejo, Azure DevOps, Bitbucket Cloud and Data Center) behind [`flow::Host`]; the flow is the same
//! for all, and so is the merge (`merge.rs`). Each host picks its own auth header from an
//! origin-bound credential.

mod api;
pub(crate) mod azure_devops;
pub(crate) mod bitbucket_cloud;
pub(crate) mod bitbucket_server;
pub(crate) mod error;
pub(crate) mod flow;
pub(crate) mod gitea;
pub(crate) mod github;
pub(crate) mod github_app;
pub(crate) mod gitlab;
pub(crate) mod kind;
pub(crate) mod merge;
pub(crate) mod provider;
mod repos;
mod rules;
pub(crate) mod status;

pub use api::message_of;
pub use error::Error;
pub use flow::{Action, Opened, PullRequest, Request};
pub use kind::Kind;
pub use provider::Provider;
