//! Test harness for iter8-gitops: real servers on 127.0.0.1, port 0.
//!
//! - [`Tls`]: a test CA made at run time and a server certificate for 127.0.0.1/localhost.
//! - [`GitServer`]: the git CLI's own `git http-backend` (CGI) behind a small HTTPS server with
//!   Basic auth that checks the token.
//! - [`GitHubFake`]: the pulls endpoints we call, following `shared/contracts/github/`.
//! - [`KubeFake`]: Secret GET, Experiment GET, legacy discovery and server-side apply PATCH,
//!   following `shared/contracts/kubernetes/`, reached through a generated kubeconfig.
//!
//! - [`LinkModel`]: a modelled network link (round trip, bandwidth) in front of any of them.
//!
//! Each server can be told to fail the n-th matching request ([`Fault`]) and records every
//! request it saw, so tests assert on what the tool sent.

mod azure;
mod bitbucket;
mod bitbucket_cloud;
mod crd;
mod git;
mod gitea;
mod github;
mod gitlab;
mod keys;
mod kube;
mod link;
mod merging;
mod server;

pub use azure::AzureFake;
pub use bitbucket::BitbucketServerFake;
pub use bitbucket_cloud::BitbucketCloudFake;
pub use git::{GitServer, copy_dir};
pub use gitea::GiteaFake;
pub use github::{App, GitHubFake, Pull};
pub use gitlab::GitLabFake;
pub use keys::gpg_key;
pub use kube::KubeFake;
pub use link::{Link, LinkModel};
pub use merging::{MergeState, Merging, Posted, Rules};
mod statuses;
pub use server::{Fault, FaultKind, Recorded, Req, Resp, Server, Tls};

use std::path::PathBuf;

/// True when this run must run every test (`CI=true`, which `.ci/run` sets itself): a test
/// that cannot run for want of `what` (Docker, the musl target, kubectl, ssh-keygen, gpg)
/// fails there instead of passing unrun.
pub fn required_here() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// The one way a test skips: outside CI, say so and return (the caller returns too); under
/// CI, fail with `why`.
pub fn skip_unless_required(what: &str, why: &str) {
    if required_here() {
        panic!("CI=true but the tests that need {what} cannot run: {why}");
    }
    eprintln!("SKIPPED (needs {what}): {why}");
}

/// `shared/` (contracts and fixtures), beside the repository checkout.
pub fn shared_dir() -> PathBuf {
    if let Ok(d) = std::env::var("ITER8_GITOPS_SHARED") {
        return d.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Runs `git` with `args` in `dir`, isolated from the user's configuration; panics with its
/// output on failure.
pub fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "CI")
        .env("GIT_AUTHOR_EMAIL", "ci@example.com")
        .env("GIT_COMMITTER_NAME", "CI")
        .env("GIT_COMMITTER_EMAIL", "ci@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
