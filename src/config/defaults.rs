//! Defaults, named once.

pub const TOKEN_SECRET: &str = "iter8-token";
pub const TOKEN_KEY: &str = "token";
pub const GITHUB_APP_KEY: &str = "private-key";
pub const TEMPLATES: &str = "templates";
pub const PR_BRANCH: &str = "iter8_exp";
pub const PR_TITLE: &str = "Iter8 GitOps";
pub const COMMIT_MESSAGE: &str = "update baseline";
pub const AUTHOR_NAME: &str = "Iter8";
pub const AUTHOR_EMAIL: &str = "iter8@iter8.tools";
pub const FIELD_MANAGER: &str = "iter8-gitops";
pub const WINNER_VARIABLE: &str = "filepath";
pub const TIMEOUT_SECS: u64 = 300;
pub const TERMINATION_LOG: &str = "/dev/termination-log";
pub const LISTEN: &str = "0.0.0.0:8080";
