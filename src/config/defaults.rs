//! Defaults, named once.

pub const TOKEN_SECRET: &str = "iter8-token";
pub const TOKEN_KEY: &str = "token";
pub const GITHUB_APP_KEY: &str = "private-key";
pub const TEMPLATES: &str = "templates";
pub const USERNAME: &str = "x-access-token";
/// The git user name Bitbucket Cloud requires with an access token.
pub const BITBUCKET_USERNAME: &str = "x-token-auth";
pub const PR_BRANCH: &str = "iter8_exp";
pub const PR_TITLE: &str = "Iter8 GitOps";
pub const COMMIT_MESSAGE: &str = "update baseline";
pub const AUTHOR_NAME: &str = "Iter8";
pub const AUTHOR_EMAIL: &str = "iter8@iter8.tools";
pub const API_URL: &str = "https://api.github.com";
pub const FIELD_MANAGER: &str = "iter8-gitops";
pub const WINNER_VARIABLE: &str = "filepath";
pub const TIMEOUT_SECS: u64 = 300;
pub const TERMINATION_LOG: &str = "/dev/termination-log";
