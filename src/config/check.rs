//! Collecting problems: every bad input is reported at once, each naming its variable and
//! what to do; and the small parsers the part validators share.

use std::{fmt, time::Duration};

use crate::plan::names::{BranchName, RepoPath};

/// One bad input: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable (or flag) name, e.g. `GITOPS_BRANCH`.
    pub input: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Problem {
    pub(super) fn new(input: &str, message: &str) -> Self {
        Problem {
            input: input.to_string(),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.input, self.message)
    }
}

/// Every problem found in the inputs, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration ({} problem{}):\n{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" },
    .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct Error {
    /// The problems, in the order of the contract table.
    pub problems: Vec<Problem>,
}

impl Error {
    /// One bad input found only once the run reads it (a local repo path that is no repo, a
    /// promotion file that is not there, the Experiment's winner variable): the same error,
    /// exit 2, as validation's.
    pub fn one(input: &str, message: String) -> Error {
        Error {
            problems: vec![Problem {
                input: input.into(),
                message,
            }],
        }
    }
}

/// Collects problems while the fields are validated one by one.
pub(super) struct Check {
    pub(super) problems: Vec<Problem>,
}

impl Check {
    pub(super) fn bad(&mut self, input: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            input: input.to_string(),
            message: message.into(),
        });
    }

    /// A value that is set must not be empty or contain NUL; returns the trimmed value.
    pub(super) fn value(&mut self, input: &str, v: &Option<String>) -> Option<String> {
        let v = v.as_ref()?;
        if v.contains('\0') {
            self.bad(input, "contains a NUL byte; remove it");
            return None;
        }
        let t = v.trim();
        if t.is_empty() {
            self.bad(
                input,
                "is set but empty; give a value or unset it to use the default",
            );
            return None;
        }
        Some(t.to_string())
    }

    pub(super) fn required(
        &mut self,
        input: &str,
        v: &Option<String>,
        what: &str,
    ) -> Option<String> {
        if v.is_none() {
            self.bad(input, format!("is required: {what}"));
            return None;
        }
        self.value(input, v)
    }

    pub(super) fn path(&mut self, input: &str, v: &str) -> Option<RepoPath> {
        match RepoPath::parse(v) {
            Ok(p) => Some(p),
            Err(e) => {
                self.bad(input, format!("{v:?}: {e}"));
                None
            }
        }
    }

    pub(super) fn branch(&mut self, input: &str, v: &str) -> Option<BranchName> {
        match BranchName::parse(v) {
            Ok(b) => Some(b),
            Err(e) => {
                self.bad(input, format!("{v:?}: {e}"));
                None
            }
        }
    }

    /// A boolean input: unset is false.
    pub(super) fn flag(&mut self, input: &str, v: &Option<String>) -> bool {
        self.value(input, v)
            .is_some_and(|v| parse_bool(input, &v, self))
    }

    /// A duration input (`300`, `90s`, `5m`, `1h`), or `default` when unset or bad.
    pub(super) fn duration(
        &mut self,
        input: &str,
        v: &Option<String>,
        default: Duration,
        e_g: &str,
    ) -> Duration {
        match self.value(input, v) {
            Some(v) => parse_duration(&v).unwrap_or_else(|| {
                self.bad(input, format!("{v:?} is not a duration; use seconds {e_g}"));
                default
            }),
            None => default,
        }
    }

    /// A comma-separated list of trimmed, non-empty entries.
    pub(super) fn list(&mut self, input: &str, v: &Option<String>) -> Vec<String> {
        self.value(input, v)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The problems so far, or `Ok` when there are none.
    pub(super) fn finish(self) -> Result<(), Error> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error {
                problems: self.problems,
            })
        }
    }

    /// Comma-separated list; an empty or unset list is no entries.
    pub(super) fn path_list(&mut self, input: &str, v: &Option<String>) -> Vec<RepoPath> {
        let Some(v) = v else { return vec![] };
        if v.contains('\0') {
            self.bad(input, "contains a NUL byte; remove it");
            return vec![];
        }
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.path(input, s))
            .collect()
    }
}

/// Kubernetes names (RFC 1123 label for namespaces, subdomain for Secrets).
pub(super) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub(super) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

pub(super) fn parse_bool(input: &str, v: &str, c: &mut Check) -> bool {
    truthy(v).unwrap_or_else(|| {
        c.bad(input, format!("{v:?} is not a boolean; use true or false"));
        false
    })
}

/// A boolean input's value as every boolean input reads it; `None` when it is none.
pub(super) fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_duration(v: &str) -> Option<Duration> {
    let (num, mult) = match v.as_bytes().last()? {
        b's' => (&v[..v.len() - 1], 1),
        b'm' => (&v[..v.len() - 1], 60),
        b'h' => (&v[..v.len() - 1], 3600),
        _ => (v, 1),
    };
    let n: u64 = num.parse().ok()?;
    (n > 0).then(|| Duration::from_secs(n * mult))
}
