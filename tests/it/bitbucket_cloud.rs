//! Bitbucket Cloud: the tutorial's Env repo over git http-backend, its pull requests by a fake
//! built from the published REST 2.0 contract. The tool never merges there (the merge names
//! no head), but it waits for a person's merge and then for Argo CD.

use base64::Engine;
use testkit::BitbucketCloudFake;

use crate::util::*;

const UUID: &str = testkit::BitbucketCloudFake::REVIEWER_UUID;

fn cloud_world() -> (World, BitbucketCloudFake) {
    let mut w = World::tutorial();
    let bb = BitbucketCloudFake::start(&w.tls, SLUG, TOKEN);
    w.set("GITOPS_PROVIDER", Some("bitbucket"))
        .set("GITOPS_API_URL", Some(&bb.api_url()));
    (w, bb)
}

#[test]
fn bitbucket_cloud_one_draft_pull_request_with_a_reviewer_a_rerun_keeps_it_and_git_uses_x_token_auth()
 {
    let (mut w, bb) = cloud_world();
    w.set("GITOPS_PR_REVIEWERS", Some(UUID))
        .set("GITOPS_PR_LABELS", Some("iter8"))
        .set("GITOPS_PR_DRAFT", Some("true"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(
        o.report()["pr"]["url"],
        "https://bitbucket.org/acme/env/pull-requests/1"
    );
    assert!(
        o.report()["warnings"]
            .to_string()
            .contains("no pull request labels")
    );
    assert_code(&w.run(&[]), 0);
    let pulls = bb.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(
        (pulls[0].head.as_str(), pulls[0].draft),
        ("iter8_exp", true)
    );
    assert_eq!(pulls[0].reviewers, [UUID]);
    assert!(
        bb.server
            .log()
            .iter()
            .all(|q| q.headers["authorization"] == format!("Bearer {TOKEN}"))
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-token-auth:{TOKEN}"))
    );
    assert!(
        w.git
            .server
            .log()
            .iter()
            .any(|q| q.headers.get("authorization") == Some(&basic))
    );
}

#[test]
fn bitbucket_cloud_a_lost_create_race_adopts_the_other_runs_request_and_a_refused_token_is_3() {
    let (w, bb) = cloud_world();
    let open = bb.opener();
    bb.server
        .before("POST /2.0/repositories/acme/env/pullrequests", move || {
            open("iter8_exp", BRANCH, "the other run");
        });
    let o = w.run(&[]);
    assert_code(&o, 0);
    assert_eq!(bb.pulls().len(), 1);
    assert_eq!(o.report()["pr_action"], "updated");

    let mut w = World::tutorial();
    let bb = BitbucketCloudFake::start(&w.tls, SLUG, "another-token-0123456789");
    w.set("GITOPS_PROVIDER", Some("bitbucket"))
        .set("GITOPS_API_URL", Some(&bb.api_url()));
    let o = w.run(&[]);
    assert_code(&o, 3);
    assert!(o.stderr.contains("Token is invalid"), "{}", o.stderr);
}

#[test]
fn bitbucket_cloud_is_never_merged_by_the_tool_but_a_persons_merge_is_waited_for_and_deployed() {
    let (mut w, bb) = cloud_world();
    w.set("GITOPS_MERGE", Some("now"));
    let o = w.run(&[]);
    assert_code(&o, 2);
    assert!(o.stderr.contains("takes no head commit"), "{}", o.stderr);
    assert_eq!(w.pushes(), 0);

    bb.serve_merges(&w.bare());
    bb.server.before(
        "GET /2.0/repositories/acme/env/pullrequests/1",
        bb.person_merges(1),
    );
    argo_app(&w, "Healthy");
    w.set("GITOPS_MERGE", None)
        .set("GITOPS_MERGE_WAIT", Some("20s"))
        .set("GITOPS_ARGOCD_APP", Some("argocd/bookinfo"))
        .set("GITOPS_ARGOCD_WAIT", Some("20s"));
    let o = w.run(&[]);
    assert_code(&o, 0);
    let r = o.report();
    let tip = w.rev("refs/heads/gitops").unwrap();
    assert_eq!(r["merge"]["state"], "merged");
    // Cloud names the commit with 12 digits; Argo CD's full id starts with them.
    assert_eq!(r["merge"]["commit"], &tip[..12]);
    assert_eq!(r["argocd_synced"], true);
}

#[test]
fn bitbucket_cloud_every_request_follows_the_published_contract() {
    let (mut w, bb) = cloud_world();
    w.set("GITOPS_PR_REVIEWERS", Some(UUID));
    assert_code(&w.run(&[]), 0);
    crate::providers::follows_the_contract(
        "bitbucket/cloud.openapi3.trimmed.json",
        "/2.0",
        &bb.server.log(),
    );
}
