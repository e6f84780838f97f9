//! `serve`: the receiver. Flagger's webhooks and Argo Rollouts' notifications say a workload's
//! rollout ended; the receiver answers at once (202) and, in the background, reads the
//! workload itself and, when the cluster says its rollout failed, puts the Env repo back to
//! what the cluster serves, through the same run as a promotion file's target (origin-bound
//! credentials, compare-and-swap push, one PR per branch, merge policy, Argo CD wait).
//!
//! Bounded everywhere: a webhook's size and time (`http`), the connections at once, the queue
//! (one entry per workload, `queue`), the workers. On SIGTERM it stops taking webhooks
//! (`/readyz` says so), lets the reverts under way finish within a grace period, and leaves
//! the queued ones: on its next start it looks at every workload again, and a half-done
//! revert is safe to redo (the same branch, the same PR).

pub(crate) mod hooks;
pub(crate) mod http;
pub(crate) mod queue;
pub(crate) mod revert;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{net::TcpListener, sync::Semaphore};
use tracing::{info, warn};

use crate::{
    Error,
    config::{self, Config, Job, PromotionSource, promotion, receiver::Receiver},
    kube::{cluster::Cluster, workload::WorkloadRef},
};
use hooks::{Pointer, Route};
use http::Answer;
use queue::{Offer, Queue};
use revert::Reverts;

/// Reverts worked on at once (each is one run: a fetch, a push, a few API calls).
const WORKERS: usize = 4;
/// Workloads waiting their turn; a webhook for another is answered 429.
const QUEUE_BOUND: usize = 256;
/// Connections served at once; one more is answered 429 and closed.
const CONNECTIONS: usize = 128;
/// How long the reverts under way may take to finish after SIGTERM (Kubernetes' default
/// grace period is 30 s).
const GRACE: Duration = Duration::from_secs(25);

/// The receiver's shared state.
struct Shared {
    reverts: Reverts,
    queue: Queue,
    stopping: AtomicBool,
}

/// Runs the receiver until SIGTERM or SIGINT.
pub async fn serve(cfg: Config) -> Result<(), Error> {
    let Job::Serve(receiver) = &cfg.job else {
        return Err(Error::Internal("serve without a receiver".into()));
    };
    let targets = targets(receiver)?;
    let listener = TcpListener::bind(receiver.listen).await.map_err(|e| {
        config::Error::one(
            "GITOPS_LISTEN",
            format!("{} cannot be listened on: {e}", receiver.listen),
        )
    })?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let cluster = Arc::new(Cluster::new(cfg.limits.io_timeout()));
    let workloads: Vec<WorkloadRef> = targets.keys().cloned().collect();
    let shared = Arc::new(Shared {
        reverts: Reverts::new(targets, cluster, receiver.namespace.clone()).await?,
        queue: Queue::new(QUEUE_BOUND.max(workloads.len())),
        stopping: AtomicBool::new(false),
    });
    // Every workload once at the start: what a stop left undone is done now.
    for w in workloads.iter().cloned() {
        shared.queue.offer(w);
    }
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(worker(shared.clone())))
        .collect();
    info!(address = %address, workloads = workloads.len(), "receiver listening");
    accept(&listener, &shared).await;
    drop(listener);
    info!("stopping: no more webhooks; letting the reverts under way finish");
    shared.queue.close();
    let finished = tokio::time::timeout(GRACE, async {
        for w in workers {
            let _ = w.await;
        }
    })
    .await;
    if finished.is_err() {
        warn!(
            grace_s = GRACE.as_secs(),
            "reverts still under way were abandoned; the next start looks at their workloads again"
        );
    }
    info!("stopped");
    Ok(())
}

/// The operator's promotion file, its targets by workload.
fn targets(r: &Receiver) -> Result<BTreeMap<WorkloadRef, Config>, Error> {
    let PromotionSource::File(path) = &r.promotion.source else {
        return Err(Error::Internal(
            "the receiver's file is not the operator's".into(),
        ));
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        config::Error::one(
            "GITOPS_CONFIG",
            format!("{} cannot be read: {e}", path.display()),
        )
    })?;
    let file = promotion::parse("GITOPS_CONFIG", &text)?;
    let mut out = BTreeMap::new();
    for c in r.promotion.targets(&file)? {
        if let Job::Edits(config::Target {
            workload: Some(w), ..
        }) = &c.job
        {
            // Its edits and apply files from the repo root, as a promotion file's commit.
            out.insert(w.clone(), crate::run::targets::combine(vec![c.clone()]).1);
        }
    }
    Ok(out)
}

/// Takes connections until SIGTERM or SIGINT.
async fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    let connections = Arc::new(Semaphore::new(CONNECTIONS));
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let (mut stream, _) = tokio::select! {
            _ = &mut stop => {
                shared.stopping.store(true, Ordering::SeqCst);
                return;
            }
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let shared = shared.clone();
        let permit = connections.clone().try_acquire_owned();
        tokio::spawn(async move {
            let answer = match permit {
                Err(_) => Answer::new(429, "too many connections; try again"),
                Ok(_permit) => match http::read(&mut stream).await {
                    Ok(req) => answer(&req, &shared),
                    Err(a) => a,
                },
            };
            http::write(&mut stream, &answer).await;
        });
    }
}

/// SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// The answer to one request; a webhook for a listed workload is queued.
fn answer(req: &http::Request, shared: &Shared) -> Answer {
    let stopping = shared.stopping.load(Ordering::SeqCst);
    let pointer = match hooks::route(req) {
        Err(a) => return a,
        Ok(Route::Health) => return Answer::new(200, "ok"),
        Ok(Route::Ready) if stopping => return Answer::new(503, "stopping"),
        Ok(Route::Ready) => return Answer::new(200, "ready"),
        Ok(Route::Hook(_)) if stopping => return Answer::new(503, "stopping; send it again"),
        Ok(Route::Hook(p)) => p,
    };
    let Some(w) = listed(&shared.reverts, &pointer) else {
        // Not echoed: the payload's names are whatever the sender wrote.
        warn!(
            controller = pointer.controller.kind(),
            "a webhook for a workload this receiver does not list: ignored"
        );
        return Answer::new(403, "not a workload this receiver serves");
    };
    match shared.queue.offer(w) {
        Offer::Queued | Offer::Joined => Answer::new(202, "accepted"),
        Offer::Full => Answer::new(429, "the receiver is busy; try again"),
    }
}

/// The listed workload a pointer names, if any.
fn listed(reverts: &Reverts, p: &Pointer) -> Option<WorkloadRef> {
    let w = WorkloadRef {
        controller: p.controller,
        namespace: p.namespace.clone(),
        name: p.name.clone(),
    };
    reverts.targets.contains_key(&w).then_some(w)
}

async fn worker(shared: Arc<Shared>) {
    while let Some(w) = shared.queue.next().await {
        shared.reverts.work(&w).await;
        shared.queue.done(&w);
    }
}
