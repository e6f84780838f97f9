//! The fakes reject what the real servers reject (shared/contracts/): a fake that accepted
//! anything would let a broken client pass every other test.

use serde_json::json;
use testkit::{GitHubFake, KubeFake, Tls};

struct Client {
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Client {
    fn new(tls: &Tls) -> Client {
        let config = iter8_gitops::trust::http::tls_config(Some(tls.ca_pem.as_bytes())).unwrap();
        let http =
            iter8_gitops::trust::http::client(&config, std::time::Duration::from_secs(10)).unwrap();
        Client {
            http,
            rt: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    /// Sends and returns (status, body as JSON).
    fn send(&self, req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        self.rt.block_on(async {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(serde_json::Value::Null))
        })
    }
}

#[test]
fn the_github_fake_rejects_what_github_rejects() {
    let tls = Tls::new();
    let gh = GitHubFake::start(&tls, "acme/env", "good-token");
    let c = Client::new(&tls);
    let url = format!("{}/repos/acme/env/pulls", gh.api_url());
    let pr = json!({"head": "acme:iter8_exp", "base": "gitops", "title": "t"});

    // A wrong token: 401 "Bad credentials".
    let (status, body) = c.send(c.http.get(&url).bearer_auth("bad"));
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials"))
    );
    // An unknown API version: 400.
    let (status, _) = c.send(
        c.http
            .get(&url)
            .bearer_auth("good-token")
            .header("X-GitHub-Api-Version", "1999-01-01"),
    );
    assert_eq!(status, 400);
    // No title: 422 missing_field.
    let (status, body) = c.send(
        c.http
            .post(&url)
            .bearer_auth("good-token")
            .json(&json!({"head": "x", "base": "gitops"})),
    );
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (422, Some("missing_field"))
    );
    // A second open PR for the same head and base: GitHub's observed 422 body.
    assert_eq!(
        c.send(c.http.post(&url).bearer_auth("good-token").json(&pr))
            .0,
        201
    );
    let (status, body) = c.send(c.http.post(&url).bearer_auth("good-token").json(&pr));
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"][0]["message"],
        "A pull request already exists for acme:iter8_exp."
    );
    // No User-Agent: rejected (reqwest always sends one unless told not to).
    let bare = reqwest::Client::builder()
        .tls_backend_preconfigured(
            (*iter8_gitops::trust::http::tls_config(Some(tls.ca_pem.as_bytes())).unwrap()).clone(),
        )
        .build()
        .unwrap();
    assert_eq!(c.send(bare.get(&url).bearer_auth("good-token")).0, 403);
}

#[test]
fn the_gitlab_fake_rejects_what_gitlab_rejects() {
    let tls = Tls::new();
    let gl = testkit::GitLabFake::start(&tls, &["acme/env"], "good-token");
    let c = Client::new(&tls);
    let url = format!("{}/projects/acme%2Fenv/merge_requests", gl.api_url());
    let mr = json!({"source_branch": "iter8_exp", "target_branch": "gitops", "title": "t"});
    let auth = |r: reqwest::RequestBuilder| r.header("PRIVATE-TOKEN", "good-token");

    // No or a wrong token: 401 {"message": "401 Unauthorized"}; Bearer works too.
    let (status, body) = c.send(c.http.get(&url).header("PRIVATE-TOKEN", "bad"));
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("401 Unauthorized"))
    );
    assert_eq!(c.send(c.http.get(&url)).0, 401);
    assert_eq!(c.send(c.http.get(&url).bearer_auth("good-token")).0, 200);
    // The project path must be URL-encoded: a raw '/' is another route.
    let raw = format!("{}/projects/acme/env/merge_requests", gl.api_url());
    assert_eq!(c.send(auth(c.http.get(&raw))).0, 404);
    // A missing title: Grape's 400 "title is missing".
    let (status, body) = c.send(auth(
        c.http
            .post(&url)
            .json(&json!({"source_branch": "a", "target_branch": "b"})),
    ));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("title is missing"))
    );
    // Source and target the same branch: 422.
    let same = json!({"source_branch": "gitops", "target_branch": "gitops", "title": "t"});
    assert_eq!(c.send(auth(c.http.post(&url).json(&same))).0, 422);
    // A second open MR for the same branches: 409 with the message in a list.
    assert_eq!(c.send(auth(c.http.post(&url).json(&mr))).0, 201);
    let (status, body) = c.send(auth(c.http.post(&url).json(&mr)));
    assert_eq!(status, 409);
    assert_eq!(
        body["message"][0],
        "Another open merge request already exists for this source branch: !1"
    );
    // An update must carry at least one attribute.
    let one = format!("{url}/1");
    assert_eq!(c.send(auth(c.http.put(&one).json(&json!({})))).0, 400);
    assert_eq!(
        c.send(auth(c.http.put(&one).json(&json!({"title": "u"}))))
            .0,
        200
    );
}

#[test]
fn the_gitea_fake_rejects_what_gitea_rejects() {
    let tls = Tls::new();
    let gt = testkit::GiteaFake::start(&tls, "acme/env", "good-token");
    let c = Client::new(&tls);
    let url = format!("{}/repos/acme/env/pulls", gt.api_url());
    let pr = json!({"head": "iter8_exp", "base": "gitops", "title": "t"});
    let auth = |r: reqwest::RequestBuilder| r.header("Authorization", "token good-token");

    // A wrong or missing token: 401 with Gitea's {message, url}.
    let (status, body) = c.send(
        c.http
            .get(format!("{url}/gitops/x"))
            .header("Authorization", "token bad"),
    );
    assert_eq!(status, 401);
    assert!(body["url"].is_string());
    // Nothing for base/head: 404 "not found".
    let (status, body) = c.send(auth(c.http.get(format!("{url}/gitops/iter8_exp"))));
    assert_eq!((status, body["message"].as_str()), (404, Some("not found")));
    // No head: 422; head equal to base: 422.
    assert_eq!(
        c.send(auth(c.http.post(&url).json(&json!({"base": "gitops"}))))
            .0,
        422
    );
    let same = json!({"head": "gitops", "base": "gitops", "title": "t"});
    assert_eq!(c.send(auth(c.http.post(&url).json(&same))).0, 422);
    // A second open PR for the same targets: 409 naming the existing one.
    assert_eq!(c.send(auth(c.http.post(&url).json(&pr))).0, 201);
    let (status, body) = c.send(c.http.post(&url).bearer_auth("good-token").json(&pr));
    assert_eq!(status, 409);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("pull request already exists for these targets [id: 101, issue_id: 1,")
    );
    // Found by base/head once it exists; an unknown reviewer is 422.
    assert_eq!(
        c.send(auth(c.http.get(format!("{url}/gitops/iter8_exp"))))
            .0,
        200
    );
    let r = json!({"reviewers": ["mallory"]});
    assert_eq!(
        c.send(auth(
            c.http.post(format!("{url}/1/requested_reviewers")).json(&r)
        ))
        .0,
        422
    );
}

#[test]
fn the_kubernetes_fake_rejects_what_the_api_server_rejects() {
    let tls = Tls::new();
    let kube = KubeFake::start(&tls, "sa-token");
    let c = Client::new(&tls);
    let base = kube.server.base_url();
    let vs = "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: bookinfo\n";
    let url = format!(
        "{base}/apis/networking.istio.io/v1alpha3/namespaces/default/virtualservices/bookinfo"
    );

    assert_eq!(
        c.send(c.http.get(format!("{base}/api/v1")).bearer_auth("bad"))
            .0,
        401
    );
    // A merge patch is not an apply: 415 for the content type this fake does not take.
    let (status, _) = c.send(
        c.http
            .patch(format!("{url}?fieldManager=x"))
            .bearer_auth("sa-token")
            .header("content-type", "application/json")
            .body(vs),
    );
    assert_eq!(status, 415);
    // An apply without fieldManager: 422, "is required for apply patch".
    let (status, body) = c.send(
        c.http
            .patch(&url)
            .bearer_auth("sa-token")
            .header("content-type", "application/apply-patch+yaml")
            .body(vs),
    );
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().contains("fieldManager"));
    // A proper apply creates (201), a second one updates (200).
    let apply = |c: &Client| {
        c.send(
            c.http
                .patch(format!("{url}?fieldManager=x&force=true"))
                .bearer_auth("sa-token")
                .header("content-type", "application/apply-patch+yaml")
                .body(vs),
        )
        .0
    };
    assert_eq!(apply(&c), 201);
    assert_eq!(apply(&c), 200);
    // A Secret that is not there: 404 NotFound Status.
    let (status, body) = c.send(
        c.http
            .get(format!("{base}/api/v1/namespaces/default/secrets/nope"))
            .bearer_auth("sa-token"),
    );
    assert_eq!((status, body["reason"].as_str()), (404, Some("NotFound")));
    // An unknown group version: 404 (discovery of a CRD that is not installed).
    assert_eq!(
        c.send(
            c.http
                .get(format!("{base}/apis/example.com/v1"))
                .bearer_auth("sa-token")
        )
        .0,
        404
    );
}

#[test]
fn the_git_server_wants_the_token() {
    let tls = Tls::new();
    let git = testkit::GitServer::start(&tls, "git-token");
    git.create_repo("acme/env", "main", &crate::util::before(), "env");
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &tls.ca_pem).unwrap();
    let ls = |user_pass: &str| {
        let url = git
            .url("acme/env")
            .replace("https://", &format!("https://{user_pass}@"));
        std::process::Command::new("git")
            .args(["ls-remote", &url])
            .env("GIT_SSL_CAINFO", ca.path())
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", ca.path().parent().unwrap())
            .output()
            .unwrap()
    };
    assert!(!ls("x:wrong").status.success());
    let ok = ls("x:git-token");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("refs/heads/main"));
}

#[test]
fn a_server_that_goes_down_refuses_connections_then_comes_back() {
    let tls = Tls::new();
    let server = testkit::Server::start(&tls, |_| testkit::Resp::json(200, &json!({})));
    let outage = std::time::Duration::from_millis(1500);
    server.fault(testkit::Fault::down("GET /crash", outage, 1));
    let c = Client::new(&tls);
    let url = |p: &str| format!("{}{p}", server.base_url());
    // A keep-alive connection that the outage must cut, like a crashed process does.
    assert_eq!(c.send(c.http.get(url("/before"))).0, 200);
    let crashed =
        c.rt.block_on(async { c.http.get(url("/crash")).send().await });
    assert!(
        crashed.is_err(),
        "the request that crashed it gets no answer"
    );
    let refused = (0..20).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::net::TcpStream::connect(server.addr)
            .err()
            .filter(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    assert!(refused.is_some(), "the port refuses connections while down");
    std::thread::sleep(outage);
    assert_eq!(c.send(c.http.get(url("/after"))).0, 200, "it comes back");
}

#[test]
fn the_azure_devops_and_bitbucket_fakes_reject_what_the_hosts_reject() {
    use testkit::{AzureFake, BitbucketCloudFake, BitbucketServerFake};
    let tls = Tls::new();
    let c = Client::new(&tls);
    let basic = |t: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(":{t}"))
        )
    };

    // Azure DevOps: api-version on every request, in the query or the Accept header.
    let az = AzureFake::start(&tls, "acme/platform", "env", "pat");
    let list = format!(
        "{}acme/platform/_apis/git/repositories/env/pullrequests",
        az.api_url()
    );
    let (status, body) = c.send(c.http.get(&list).header("authorization", basic("pat")));
    assert_eq!(status, 400);
    assert_eq!(body["typeKey"], "VssVersionNotSpecifiedException");
    let ok = c.send(
        c.http
            .get(&list)
            .header("authorization", basic("pat"))
            .header("accept", "application/json;api-version=7.1"),
    );
    assert_eq!(ok.0, 200);
    assert!(ok.1["value"].is_array(), "the recorded list envelope");
    let (status, body) = c.send(
        c.http
            .get(format!("{list}?api-version=7.1"))
            .header("authorization", basic("wrong")),
    );
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().starts_with("TF400813"));
    let pr =
        json!({"sourceRefName": "refs/heads/a", "targetRefName": "refs/heads/b", "title": "t"});
    let create = || {
        c.send(
            c.http
                .post(format!("{list}?api-version=7.1"))
                .header("authorization", basic("pat"))
                .json(&pr),
        )
    };
    assert_eq!(create().0, 201, "the recorded create answer");
    let (status, body) = create();
    assert_eq!(
        (status, body["typeKey"].as_str()),
        (409, Some("GitPullRequestExistsException"))
    );
    let (status, body) = c.send(
        c.http
            .patch(format!("{list}/1?api-version=7.1"))
            .header("authorization", basic("pat"))
            .json(&json!({"sourceRefName": "refs/heads/c"})),
    );
    assert_eq!(
        (status, body["typeKey"].as_str()),
        (400, Some("InvalidArgumentValueException"))
    );

    // Bitbucket Data Center: Bearer only; the version precondition; the duplicate names the
    // existing request.
    let dc = BitbucketServerFake::start(&tls, "ACME", "env", "tok");
    let list = format!("{}/projects/ACME/repos/env/pull-requests", dc.api_url());
    assert_eq!(
        c.send(c.http.get(&list).header("authorization", basic("tok")))
            .0,
        401
    );
    let pr =
        json!({"title": "t", "fromRef": {"id": "refs/heads/a"}, "toRef": {"id": "refs/heads/b"}});
    assert_eq!(
        c.send(c.http.post(&list).bearer_auth("tok").json(&pr)).0,
        201
    );
    let (status, body) = c.send(c.http.post(&list).bearer_auth("tok").json(&pr));
    assert_eq!(status, 409);
    assert_eq!(body["errors"][0]["existingPullRequest"]["id"], 1);
    let put = |v: serde_json::Value| {
        c.send(c.http.put(format!("{list}/1")).bearer_auth("tok").json(&v))
            .0
    };
    assert_eq!(put(json!({"title": "x"})), 400, "no version");
    assert_eq!(
        put(json!({"title": "x", "version": 7})),
        409,
        "an old version"
    );
    assert_eq!(put(json!({"title": "x", "version": 0})), 200);
    assert_eq!(
        put(json!({"title": "y", "version": 0})),
        409,
        "the version moved"
    );

    // Bitbucket Cloud: its error envelope; a filter on an unknown field is refused.
    let bb = BitbucketCloudFake::start(&tls, "acme/env", "tok");
    let list = format!("{}/repositories/acme/env/pullrequests", bb.api_url());
    let (status, body) = c.send(c.http.get(&list).bearer_auth("bad"));
    assert_eq!((status, body["type"].as_str()), (401, Some("error")));
    let (status, _) = c.send(
        c.http
            .get(&list)
            .bearer_auth("tok")
            .query(&[("q", "author.nickname = \"x\"")]),
    );
    assert_eq!(status, 400);
    let (status, body) = c.send(
        c.http
            .post(&list)
            .bearer_auth("tok")
            .json(&json!({"title": "t"})),
    );
    assert_eq!(status, 400);
    assert!(body["error"]["fields"]["source"].is_array(), "{body}");
}

#[test]
fn the_merging_fakes_refuse_a_stale_head_and_pending_checks_and_really_merge() {
    use crate::util::*;
    let w = World::tutorial();
    w.branch_from_base("iter8_exp", |root| {
        std::fs::write(root.join("x"), "x").unwrap()
    });
    let head = w.rev("refs/heads/iter8_exp").unwrap();
    let base = w.rev("refs/heads/gitops").unwrap();
    let m = w.github.serve_merges(&w.bare());
    w.github.add("acme:iter8_exp", "gitops", "t");
    let c = Client::new(&w.tls);
    let url = format!("{}/repos/acme/env/pulls/1/merge", w.github.api_url());
    let merge = |sha: &str| {
        c.send(
            c.http
                .put(&url)
                .bearer_auth(TOKEN)
                .json(&json!({"sha": sha, "merge_method": "merge"})),
        )
    };
    m.set(|r| r.pending_reads = 1);
    assert_eq!(merge(&head).0, 405, "checks pending");
    m.set(|r| r.pending_reads = 0);
    let (status, body) = merge(&"0".repeat(40));
    assert_eq!(status, 409, "{body}");
    assert_eq!(w.rev("refs/heads/gitops").unwrap(), base, "nothing merged");
    let (status, body) = merge(&head);
    assert_eq!((status, body["merged"].as_bool()), (200, Some(true)));
    let tip = w.rev("refs/heads/gitops").unwrap();
    assert_eq!(body["sha"], tip.as_str());
    let parents = testkit::git(&w.bare(), &["log", "-1", "--format=%P", "gitops"]);
    assert_eq!(parents.trim(), format!("{base} {head}"));
    assert_eq!(merge(&head).0, 405, "a merged request is not mergeable");
}

/// Issue 24: each host refuses a PR description over its limit, and so does its fake
/// (GitHub 65,536, GitLab 1,048,576, Azure DevOps 4,000, Bitbucket Data Center under 32,768
/// characters; `host::Kind::max_body_chars` cites each).
#[test]
fn every_fake_refuses_a_description_over_its_hosts_limit() {
    let tls = Tls::new();
    let c = Client::new(&tls);
    let gh = GitHubFake::start(&tls, "acme/env", "good-token");
    let gl = testkit::GitLabFake::start(&tls, &["acme/env"], "good-token");
    let az = testkit::AzureFake::start(&tls, "acme/platform", "env", "good-token");
    let dc = testkit::BitbucketServerFake::start(&tls, "ACME", "env", "good-token");
    let basic = |r: reqwest::RequestBuilder| r.basic_auth("", Some("good-token"));
    type Create<'a> = Box<dyn Fn(String) -> reqwest::RequestBuilder + 'a>;
    let cases: Vec<(&str, usize, Create)> = vec![
        (
            "github",
            65_536,
            Box::new(|b| {
                c.http
                    .post(format!("{}/repos/acme/env/pulls", gh.api_url()))
                    .bearer_auth("good-token")
                    .json(&json!({"head": "acme:iter8_exp", "base": "gitops", "title": "t", "body": b}))
            }),
        ),
        (
            "gitlab",
            1_048_576,
            Box::new(|b| {
                c.http
                    .post(format!("{}/projects/acme%2Fenv/merge_requests", gl.api_url()))
                    .header("PRIVATE-TOKEN", "good-token")
                    .json(&json!({"source_branch": "iter8_exp", "target_branch": "gitops", "title": "t", "description": b}))
            }),
        ),
        (
            "azure-devops",
            4_000,
            Box::new(|b| {
                basic(c.http.post(format!(
                    "{}/acme/platform/_apis/git/repositories/env/pullrequests?api-version=7.1",
                    az.api_url().trim_end_matches('/')
                )))
                .json(&json!({"sourceRefName": "refs/heads/iter8_exp", "targetRefName": "refs/heads/gitops", "title": "t", "description": b}))
            }),
        ),
        (
            "bitbucket-server",
            32_767,
            Box::new(|b| {
                c.http
                    .post(format!("{}/projects/ACME/repos/env/pull-requests", dc.api_url()))
                    .bearer_auth("good-token")
                    .json(&json!({"title": "t", "description": b,
                        "fromRef": {"id": "refs/heads/iter8_exp"}, "toRef": {"id": "refs/heads/gitops"}}))
            }),
        ),
    ];
    for (host, limit, create) in &cases {
        let (status, body) = c.send(create("é".repeat(limit + 1)));
        assert!(status == 400 || status == 422, "{host}: {status} {body}");
        assert!(
            body.to_string().contains("long") || body.to_string().contains("less than"),
            "{host}: {body}"
        );
        // At the limit (counted in characters, not bytes): not refused for its length.
        let (_, body) = c.send(create("é".repeat(*limit)));
        assert!(
            !body.to_string().contains("too long") && !body.to_string().contains("less than 32768"),
            "{host}: {body}"
        );
    }
}
