//! The only user of gix: fetch the Env repo's branches at depth 1 into a temporary bare repo,
//! read its tree, write the planned change as an in-memory commit, and push it with a
//! compare-and-swap over receive-pack. Blocking code: call it from `spawn_blocking`.
//!
//! Credentials are handed to gix in memory (an `Account` for the transport); they are never
//! put in a URL, argv, a log line or a file, and they go only to the origin they are bound to:
//! after a redirect to another origin gix asks again, and is told nothing.

mod arrival;
mod bounded;
mod delta;
mod edit;
pub(crate) mod error;
mod fetch;
pub mod gate;
mod openpgp;
mod paths;
mod pool;
mod push;
pub(crate) mod remote;
mod rsa_der;
mod sift;
pub mod sign;
mod sshsig;

pub use edit::{Commit, Identity, already_pushed, commit, head_author};
pub use error::{BoxError, Error};
pub use fetch::{Fetched, fetch, remove_temporary_repos};
pub use pool::Pool;
pub use push::{PushOutcome, Report, parse_report, push};
pub use remote::Remote;
