//! `serve`: the receiver's inputs. Where it listens (GITOPS_LISTEN), and the operator's
//! promotion file (GITOPS_CONFIG), whose targets name the workloads it serves
//! (`targets[].workload`) and the edits that put a failed one back. A file from the Env repo
//! cannot decide what the receiver acts on: the repo's content is data.

use std::net::SocketAddr;

use super::{
    args::Args,
    check::Check,
    defaults,
    task::{Promotion, PromotionSource},
};

/// What `iter8-gitops serve` runs with.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// The operator's promotion file, its targets validated when the receiver starts.
    pub promotion: Promotion,
    pub listen: SocketAddr,
    /// GITOPS_NAMESPACE: the receiver's own, where its token Secret and the ConfigMap of its
    /// holds (`kube::holds`) are.
    pub namespace: String,
}

/// GITOPS_LISTEN, and the promotion file `serve` needs; `None` unless serving (or when
/// validating one of its targets, which is run like any promotion file's).
pub(super) fn validate(
    c: &mut Check,
    a: &Args,
    (serving, target): (bool, bool),
    promotion: Option<&Promotion>,
) -> Option<Receiver> {
    if target {
        return None;
    }
    let listen = c.value("GITOPS_LISTEN", &a.listen);
    if !serving {
        if listen.is_some() {
            c.bad(
                "GITOPS_LISTEN",
                "is read by the receiver only (iter8-gitops serve)",
            );
        }
        return None;
    }
    let listen = listen.unwrap_or_else(|| defaults::LISTEN.into());
    let listen = match listen.parse::<SocketAddr>() {
        Ok(l) => Some(l),
        Err(_) => {
            c.bad(
                "GITOPS_LISTEN",
                format!("{listen:?} is not an address and port, e.g. 0.0.0.0:8080"),
            );
            None
        }
    };
    let promotion = match promotion {
        Some(p) if matches!(p.source, PromotionSource::File(_)) => Some(p.clone()),
        Some(_) => {
            c.bad(
                "GITOPS_CONFIG_IN_REPO",
                "cannot drive the receiver: which workloads it reverts is the operator's to say; give the promotion file as GITOPS_CONFIG",
            );
            None
        }
        None => {
            c.bad(
                "GITOPS_CONFIG",
                "is required by `serve`: a promotion file whose targets name the workloads (targets[].workload) and their edits",
            );
            None
        }
    };
    let namespace = a
        .namespace
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if namespace.is_none() {
        c.bad(
            "GITOPS_NAMESPACE",
            "is required by `serve`: the receiver's own namespace, where its token Secret and the ConfigMap of its holds are",
        );
    }
    Some(Receiver {
        promotion: promotion?,
        listen: listen?,
        namespace: namespace?.to_string(),
    })
}
