//! What the run is about, from the Experiment when finish has one: the winner's file, the
//! namespace its objects go to, and the variables a promotion file's edits may use.

use tracing::info;

use super::report::Report;
use crate::{
    Error, config,
    config::{Config, Job, Winner},
    kube::experiment,
    plan::{edits::Vars, evidence::Evidence, names::RepoPath},
};

/// The experiment context of one run.
pub struct Subject {
    /// The winner's file, for a single finish; `start` and promotion files read none.
    pub winner: Option<RepoPath>,
    /// Where the token Secret and the applied objects are: GITOPS_NAMESPACE, else the
    /// Experiment's.
    pub namespace: Option<String>,
    /// The Experiment's uid, for the Events about it.
    pub uid: Option<String>,
    /// `${winner.…}` and `${experiment.…}` for a promotion file's edits and PR text.
    pub vars: Vars,
    /// Why the winner is the winner: the Experiment's evidence, or that the operator gave it.
    pub evidence: Option<Evidence>,
}

/// Reads the Experiment when the run needs it (finish without GITOPS_WINNER, or a promotion
/// file's target with an Experiment for its variables).
#[tracing::instrument(target = "iter8_gitops::step", name = "experiment", skip_all)]
pub async fn read(
    ctx: &super::context::Context,
    cfg: &Config,
    report: &mut Report,
) -> Result<Subject, Error> {
    let given = Subject {
        winner: None,
        namespace: cfg.cluster.namespace.clone(),
        uid: None,
        vars: Vars::default(),
        evidence: None,
    };
    let exp = cfg.cluster.experiment.as_ref();
    let subject = match (&cfg.job, exp) {
        (Job::Start(_), _) => given,
        // The receiver's: what the cluster said about the failed rollout.
        (Job::Edits(t), _) if t.cause.is_some() => {
            let cause = t.cause.as_ref().expect("matched");
            Subject {
                vars: Vars {
                    revert: cause.vars.clone(),
                    ..Vars::default()
                },
                evidence: Some(cause.evidence.clone()),
                uid: cause.regarding.uid.clone(),
                ..given
            }
        }
        // A promotion file's target: the winner only feeds `${winner.…}` in its edits.
        (Job::Edits(_) | Job::Promotion(_) | Job::Serve(_), None) => given,
        (Job::Edits(_) | Job::Promotion(_) | Job::Serve(_), Some(exp)) => {
            let (w, object) = experiment::read(&ctx.cluster, exp, "").await?;
            report.winner_version = Some(w.version.clone());
            Subject {
                evidence: Some(Evidence::from_experiment(&exp.to_string(), &object)),
                winner: None,
                namespace: given.namespace.or(w.namespace),
                uid: w.uid,
                vars: Vars {
                    winner: Some(w.version),
                    variables: w.variables,
                    experiment: Some((exp.name.clone(), exp.namespace.clone())),
                    revert: Default::default(),
                },
            }
        }
        (Job::Finish(rules), _) => match &rules.winner {
            Winner::Given(w) => Subject {
                winner: Some(w.clone()),
                evidence: Some(Evidence::given()),
                ..given
            },
            Winner::FromExperiment {
                experiment,
                variable,
            } => winner_of(ctx, (experiment, variable), report, given.namespace).await?,
        },
    };
    if let Job::Finish(_) = &cfg.job {
        report.winner = subject.winner.as_ref().map(RepoPath::to_string);
    }
    report.evidence = subject.evidence.clone();
    Ok(subject)
}

/// The winner the Experiment recommends: its version variable holds the file.
async fn winner_of(
    ctx: &super::context::Context,
    (exp, variable): (&experiment::ExperimentRef, &str),
    report: &mut Report,
    namespace: Option<String>,
) -> Result<Subject, Error> {
    let (w, object) = experiment::read(&ctx.cluster, exp, variable).await?;
    info!(experiment = %exp.name, version = %w.version, file = %w.file, "experiment recommends a version");
    report.winner_version = Some(w.version.clone());
    let file = RepoPath::parse(&w.file).map_err(|e| {
        config::Error::one(
            &format!("Experiment variable {variable:?}"),
            format!("{:?} {e}", w.file),
        )
    })?;
    Ok(Subject {
        winner: Some(file),
        namespace: namespace.or(w.namespace),
        uid: w.uid,
        vars: Vars::default(),
        evidence: Some(Evidence::from_experiment(&exp.to_string(), &object)),
    })
}
