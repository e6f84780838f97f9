//! A local Env repo (GITOPS_REPO a path), checked before gix is asked to read it; and the
//! configuration problems the run itself finds.

use crate::{Error, config, config::Config, plan::names::RepoLocation};

/// A local GITOPS_REPO must be a Git repository. Said here, as a configuration problem:
/// otherwise gix's transport fails with a handshake error that reads like a network fault.
pub fn local_repo_exists(cfg: &Config) -> Result<(), Error> {
    let RepoLocation::Local(path) = &cfg.repo.location else {
        return Ok(());
    };
    let is_repo = |p: &std::path::Path| p.join("HEAD").is_file() && p.join("objects").is_dir();
    let problem = if !path.exists() {
        "does not exist; give the path of the Env repo (a bare repo, or a clone's .git)"
    } else if !is_repo(path) && !is_repo(&path.join(".git")) {
        "is not a Git repository (no HEAD and objects/ in it, nor in its .git); give the path of a bare repo or a clone"
    } else {
        return Ok(());
    };
    Err(config::Error::one("GITOPS_REPO", format!("{} {problem}", path.display())).into())
}
