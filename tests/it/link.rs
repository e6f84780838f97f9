//! A run on a slow link (100 ms round trip, 20 Mbit/s, modelled by testkit's `LinkModel` in
//! front of the git server and the API, as a Job far from its Git host sees them): the
//! connection the fetch opened carries the push, the open PR is looked up while the git work
//! runs, and a commit just pushed gets its status without asking for the ones it has first.

use testkit::{Link, LinkModel};

use crate::util::*;

/// The world's git server and API, reached over `link`.
fn over(w: &mut World, link: Link) -> LinkModel {
    let model = LinkModel::new(link);
    let (repo, api) = (model.url(&w.git.url(SLUG)), model.url(&w.github.api_url()));
    w.set("GITOPS_REPO", Some(&repo))
        .set("GITOPS_API_URL", Some(&api));
    model
}

#[test]
fn on_a_slow_link_one_connection_carries_the_fetch_and_the_push_and_the_pr_is_looked_up_beside_them()
 {
    let mut w = World::tutorial();
    let link = over(&mut w, Link::FAR);
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_same_tree(&w.checkout("iter8_exp").path().join(DIR), &after());
    assert_eq!(w.github.pulls().len(), 1);

    // Every upload-pack and receive-pack request went over the one TLS connection.
    let git = w.git.server.log();
    assert!(git.iter().any(|r| r.path.ends_with("git-receive-pack")));
    assert_eq!(link.connections_to(w.git.server.addr), 1, "{git:#?}");

    // Looked up after the push, the lookup would reach the host three round trips after the
    // push's answer left the git server (the answer's way back, then a new connection's TCP
    // and TLS handshakes, then the request); beside the push, it comes sooner.
    let api = w.github.server.log();
    let lookup = api
        .iter()
        .find(|r| r.method == "GET" && r.path.ends_with("/pulls"))
        .expect("the PR was looked up");
    let push = git
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("git-receive-pack"))
        .unwrap();
    let answered = push.at + std::time::Duration::from_micros(push.micros as u64);
    assert!(
        lookup.at < answered + 2 * Link::FAR.rtt,
        "lookup {:?}, push {push:?}",
        lookup.at
    );

    // The commit this run pushed had no status to look at: one POST, no GET.
    let statuses = |method: &str| {
        w.github
            .server
            .log()
            .iter()
            .filter(|r| r.method == method && r.path.contains("/statuses"))
            .count()
    };
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
