//! Step timings from the steps' spans: every step is a function with a
//! `#[tracing::instrument(target = "iter8_gitops::step", name = …)]` span, and this layer
//! adds each span's lifetime to the timings of the run it belongs to (a task-local, so that
//! concurrent targets of a promotion file keep their own). The report's `timings_ms` is
//! what [`collect`] gathered.

use std::{cell::RefCell, collections::BTreeMap, future::Future, time::Instant};

use tracing::{Subscriber, span};
use tracing_subscriber::{layer::Context, registry::LookupSpan};

/// The target of the steps' spans.
pub const TARGET: &str = "iter8_gitops::step";

tokio::task_local! {
    static TIMINGS: RefCell<BTreeMap<String, u64>>;
}

/// Runs `fut`, returning its output and the milliseconds each step's spans lived in it
/// (summed when a step ran several times, as fetch and plan do after a refused push).
pub async fn collect<F: Future>(fut: F) -> (F::Output, BTreeMap<String, u64>) {
    TIMINGS
        .scope(RefCell::default(), async {
            let out = fut.await;
            (out, TIMINGS.with(|t| t.take()))
        })
        .await
}

/// The layer `logging::init` installs beside the log output; unfiltered, so the timings do
/// not depend on RUST_LOG.
pub struct Layer;

struct Started(Instant);

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Layer {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if attrs.metadata().target() == TARGET
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(Started(at)) = span.extensions_mut().remove::<Started>() else {
            return;
        };
        let ms = at.elapsed().as_millis() as u64;
        // Outside a run (a test calling a step directly) there is nothing to add to.
        let _ = TIMINGS.try_with(|t| {
            *t.borrow_mut().entry(span.name().to_string()).or_default() += ms;
        });
    }
}
