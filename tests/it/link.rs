//! A run on a slow link (100 ms round trip, 20 Mbit/s, modelled by testkit's `LinkModel` in
//! front of the git server and the API, as a Job far from its Git host sees them). Three
//! round-trip savings, one story each: the connection the fetch opened carries the push, the
//! open PR is looked up while the push runs, and a commit just pushed gets its status without
//! asking for the ones it has first.

use testkit::{Link, LinkModel};

use crate::util::*;

/// The tutorial, its git server and API reached over the far link, run once: the world, the
/// link and the run's output.
fn far_run() -> (World, LinkModel, Output) {
    let mut w = World::tutorial();
    let model = LinkModel::new(Link::FAR);
    let (repo, api) = (model.url(&w.git.url(SLUG)), model.url(&w.github.api_url()));
    w.set("GITOPS_REPO", Some(&repo))
        .set("GITOPS_API_URL", Some(&api));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_eq!(w.github.pulls().len(), 1);
    (w, model, o)
}

#[test]
fn on_a_slow_link_the_fetch_and_the_push_share_one_connection() {
    let (w, link, _) = far_run();
    let git = w.git.server.log();
    assert!(git.iter().any(|r| r.path.ends_with("git-receive-pack")));
    // Every upload-pack and receive-pack request went over the one TLS connection.
    assert_eq!(link.connections_to(w.git.server.addr), 1, "{git:#?}");
}

#[test]
fn on_a_slow_link_the_pr_is_looked_up_while_the_push_runs() {
    let (w, _link, _) = far_run();
    // Looked up after the push, the lookup would reach the host three round trips after the
    // push's answer left the git server (the answer's way back, then a new connection's TCP
    // and TLS handshakes, then the request); beside the push, it comes sooner.
    let first = |server: &testkit::Server, method: &str, path: &str| {
        server
            .log()
            .into_iter()
            .find(|r| r.method == method && r.path.ends_with(path))
            .unwrap_or_else(|| panic!("no {method} …{path}"))
    };
    let lookup = first(&w.github.server, "GET", "/pulls");
    let push = first(&w.git.server, "POST", "git-receive-pack");
    let answered = push.at + std::time::Duration::from_micros(push.micros as u64);
    assert!(
        lookup.at < answered + 2 * Link::FAR.rtt,
        "lookup {:?}, push {push:?}",
        lookup.at
    );
}

#[test]
fn a_commit_just_pushed_gets_its_status_without_a_lookup_and_a_rerun_looks() {
    let (w, _link, o) = far_run();
    let statuses = |method: &str| {
        w.github
            .server
            .log()
            .iter()
            .filter(|r| r.method == method && r.path.contains("/statuses"))
            .count()
    };
    // The commit this run pushed had no status to look at: one POST, no GET.
    assert_eq!((statuses("POST"), statuses("GET")), (1, 0));
    assert_eq!(o.report()["status"]["action"], "set");

    // A rerun pushes nothing: it looks at the head's statuses and leaves them.
    let again = w.run(&[]);
    assert_code(&again, 0);
    assert_eq!(again.report()["pushed"], false);
    assert_eq!(again.report()["status"]["action"], "unchanged");
    assert_eq!((statuses("POST"), statuses("GET")), (1, 1));
    assert_eq!(w.github.pulls().len(), 1);
}
