//! Pull requests on the Git host. One implementation per host kind (GitHub and GitHub
//! Enterprise Server, GitLab, Gitea and Forgejo, Azure DevOps, Bitbucket Cloud and Data Center) behind [`flow::Host`]; the flow is the same
//! for all, and so is the merge (`merge.rs`). Each host picks its own auth header from an
//! origin-bound credential.

mod api;
pub mod azure_devops;
pub mod bitbucket_cloud;
pub mod bitbucket_server;
pub mod error;
pub mod flow;
pub mod gitea;
pub mod github;
pub mod github_app;
pub mod gitlab;
pub mod kind;
pub mod merge;
pub mod provider;
mod repos;
mod rules;
pub mod status;

pub use api::message_of;
pub use error::Error;
pub use flow::{Action, Opened, PullRequest, Request};
pub use kind::Kind;
pub use provider::Provider;
