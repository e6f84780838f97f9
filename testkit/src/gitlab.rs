//! A fake of GitLab's merge requests API (v4) following `shared/contracts/gitlab/notes.md`, and
//! rejecting what GitLab rejects: no or a wrong token (401 `{"message": "401 Unauthorized"}`),
//! a project path that is not URL-encoded or unknown (404), a create without `source_branch`,
//! `target_branch` or `title` (400 "... is missing"), the same branch as source and target
//! (422), a second open MR for the same source and target (409 `{"message": ["Another open
//! merge request already exists for this source branch: !N"]}`), an update without any
//! attribute (400). Accepts `PRIVATE-TOKEN` and `Authorization: Bearer`.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{
    github::Pull,
    merging::{MergeState, Merging, Refusal},
    server::{Req, Resp, Server, Tls},
};

#[derive(Debug, Clone)]
struct Mr {
    iid: u64,
    project: u64,
    source_project: u64,
    source_branch: String,
    target_branch: String,
    title: String,
    description: String,
    open: bool,
    labels: Vec<String>,
    reviewer_ids: Vec<u64>,
    merge: MergeState,
    /// Merged as a squash: the commit is `squash_commit_sha`.
    squashed: bool,
}

#[derive(Default)]
struct State {
    /// Project paths; a project's id is its index + 1.
    projects: Vec<String>,
    /// User names; a user's id is its index + 100.
    users: Vec<String>,
    mrs: Vec<Mr>,
    merging: Merging,
}

/// The fake, serving `/api/v4`.
pub struct GitLabFake {
    pub server: Server,
    state: Arc<Mutex<State>>,
}

impl GitLabFake {
    /// Serves `projects` (full paths, nested groups allowed), accepting `token`.
    pub fn start(tls: &Tls, projects: &[&str], token: &str) -> GitLabFake {
        let state = Arc::new(Mutex::new(State {
            projects: projects.iter().map(|p| p.to_string()).collect(),
            users: vec!["alice".into(), "bob".into()],
            mrs: vec![],
            merging: Merging::default(),
        }));
        let (st, token) = (state.clone(), token.to_string());
        let server = Server::start(tls, move |req| match req.path.strip_prefix("/api/v4") {
            Some(path) => handle(req, path, &token, &mut st.lock().unwrap()),
            None => error(404, "404 Not Found"),
        });
        GitLabFake { server, state }
    }

    /// The merge rules and the commit statuses posted.
    pub fn checks(&self) -> Merging {
        self.state.lock().unwrap().merging.clone()
    }

    /// Merges into `bare` (the served Env repo) from now on; returns the rules to tune.
    pub fn serve_merges(&self, bare: &std::path::Path) -> Merging {
        let m = self.state.lock().unwrap().merging.clone();
        m.set(|r| r.bare = Some(bare.to_path_buf()));
        m
    }

    /// A function that opens a merge request as someone else would (for races):
    /// `(source project, source branch, target branch, title)`, on the source project.
    pub fn opener(&self) -> impl Fn(&str, &str, &str, &str) + Send + 'static {
        let st = self.state.clone();
        move |project, source_branch, target_branch, title| {
            let mut st = st.lock().unwrap();
            let id = st
                .projects
                .iter()
                .position(|p| p == project)
                .expect("known project") as u64
                + 1;
            let iid = st.mrs.iter().filter(|m| m.project == id).count() as u64 + 1;
            st.mrs.push(Mr {
                iid,
                project: id,
                source_project: id,
                source_branch: source_branch.into(),
                target_branch: target_branch.into(),
                title: title.into(),
                description: String::new(),
                open: true,
                labels: vec![],
                reviewer_ids: vec![],
                merge: MergeState::default(),
                squashed: false,
            });
        }
    }

    /// The API base URL to give as GITOPS_API_URL.
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.server.base_url())
    }

    /// Every merge request, in the shape the scenarios compare (`head` is
    /// `source-namespace:branch`; draft is the `Draft:` title).
    pub fn pulls(&self) -> Vec<Pull> {
        let st = self.state.lock().unwrap();
        st.mrs
            .iter()
            .map(|m| {
                let source = &st.projects[(m.source_project - 1) as usize];
                let owner = source.rsplit_once('/').map_or("", |x| x.0);
                Pull {
                    number: m.iid,
                    head: format!("{owner}:{}", m.source_branch),
                    base: m.target_branch.clone(),
                    title: m.title.clone(),
                    body: m.description.clone(),
                    open: m.open,
                    labels: m.labels.clone(),
                    reviewers: m
                        .reviewer_ids
                        .iter()
                        .map(|id| st.users[(id - 100) as usize].clone())
                        .collect(),
                    draft: m.title.starts_with("Draft:"),
                    merge: m.merge.clone(),
                }
            })
            .collect()
    }
}

fn error(status: u16, message: &str) -> Resp {
    Resp::json(status, &json!({ "message": message }))
}

/// Grape's parameter errors: `{"error": "title is missing"}` with 400.
fn missing(field: &str) -> Resp {
    Resp::json(400, &json!({ "error": format!("{field} is missing") }))
}

fn mr_json(m: &Mr, st: &State, base: &str) -> Value {
    let path = &st.projects[(m.project - 1) as usize];
    json!({
        "id": 1000 + m.iid,
        "iid": m.iid,
        "project_id": m.project,
        "title": m.title,
        "description": m.description,
        "state": match (&m.merge.merged, m.open) {
            (Some(_), _) => "merged",
            (None, true) => "opened",
            (None, false) => "closed",
        },
        "sha": st.merging.head(&m.source_branch),
        "merge_when_pipeline_succeeds": m.merge.auto.is_some(),
        "merge_commit_sha": m.merge.merged.as_ref().filter(|_| !m.squashed),
        "squash_commit_sha": m.merge.merged.as_ref().filter(|_| m.squashed),
        "source_branch": m.source_branch,
        "target_branch": m.target_branch,
        "source_project_id": m.source_project,
        "target_project_id": m.project,
        "labels": m.labels,
        "draft": m.title.starts_with("Draft:"),
        "reviewers": m.reviewer_ids.iter().map(|id| json!({
            "id": id, "username": st.users[(id - 100) as usize], "state": "active"
        })).collect::<Vec<_>>(),
        "web_url": format!("{base}/{path}/-/merge_requests/{}", m.iid),
    })
}

/// The project a `:id` segment names: a number, or the URL-encoded full path (a raw `/`
/// splits the path, so an unencoded path never gets here as one segment).
fn project_id(st: &State, seg: &str) -> Option<u64> {
    if let Ok(n) = seg.parse::<u64>() {
        return (n >= 1 && n as usize <= st.projects.len()).then_some(n);
    }
    let path: String = url::form_urlencoded::parse(format!("p={seg}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    st.projects
        .iter()
        .position(|p| *p == path)
        .map(|i| i as u64 + 1)
}

fn handle(req: &Req, path: &str, token: &str, st: &mut State) -> Resp {
    let auth_ok = req.header("private-token") == Some(token)
        || req.header("authorization") == Some(&format!("Bearer {token}"));
    if !auth_ok {
        return error(401, "401 Unauthorized");
    }
    let base = "https://gitlab.test";
    if req.longer_than("description", 1_048_576) {
        return Resp::json(
            400,
            &json!({"message": {"description": ["is too long (maximum is 1048576 characters)"]}}),
        );
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return Resp::json(400, &json!({"error": "body is not valid JSON"})),
        }
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    if let ["projects", id, rest @ ..] = segs.as_slice()
        && project_id(st, id).is_some()
        && let Some(r) = crate::statuses::gitlab(req, rest, &st.merging)
    {
        return r;
    }
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["users"]) => {
            let q = req.query_pairs();
            let found: Vec<Value> = st
                .users
                .iter()
                .enumerate()
                .filter(|(_, u)| q.get("username").is_none_or(|n| n == *u))
                .map(|(i, u)| json!({"id": i + 100, "username": u, "state": "active"}))
                .collect();
            Resp::json(200, &Value::Array(found))
        }
        ("GET", ["projects", id]) => match project_id(st, id) {
            Some(n) => Resp::json(
                200,
                &json!({"id": n, "path_with_namespace": st.projects[(n - 1) as usize]}),
            ),
            None => error(404, "404 Project Not Found"),
        },
        ("GET", ["projects", id, "merge_requests"]) => {
            let Some(project) = project_id(st, id) else {
                return error(404, "404 Project Not Found");
            };
            let q = req.query_pairs();
            let state = q.get("state").map(String::as_str).unwrap_or("all");
            if !["opened", "closed", "locked", "merged", "all"].contains(&state) {
                return Resp::json(400, &json!({"error": "state does not have a valid value"}));
            }
            let list: Vec<Value> = st
                .mrs
                .iter()
                .filter(|m| m.project == project)
                .filter(|m| match state {
                    "opened" => m.open,
                    "closed" => !m.open,
                    "all" => true,
                    _ => false,
                })
                .filter(|m| q.get("source_branch").is_none_or(|b| *b == m.source_branch))
                .filter(|m| q.get("target_branch").is_none_or(|b| *b == m.target_branch))
                .map(|m| mr_json(m, st, base))
                .collect();
            Resp::json(200, &Value::Array(list))
        }
        ("POST", ["projects", id, "merge_requests"]) => {
            let Some(source) = project_id(st, id) else {
                return error(404, "404 Project Not Found");
            };
            let Some(source_branch) = text("source_branch") else {
                return missing("source_branch");
            };
            let Some(target_branch) = text("target_branch") else {
                return missing("target_branch");
            };
            let Some(title) = text("title") else {
                return missing("title");
            };
            let target = match body.get("target_project_id") {
                None => source,
                Some(v) => match v.as_u64().and_then(|n| project_id(st, &n.to_string())) {
                    Some(t) => t,
                    None => return error(404, "404 Project Not Found"),
                },
            };
            if source == target && source_branch == target_branch {
                return error(
                    422,
                    "You can't use same project/branch for source and target",
                );
            }
            if let Some(c) = st.mrs.iter().find(|m| {
                m.open
                    && m.project == target
                    && m.source_project == source
                    && m.source_branch == source_branch
                    && m.target_branch == target_branch
            }) {
                return Resp::json(
                    409,
                    &json!({"message": [format!(
                        "Another open merge request already exists for this source branch: !{}",
                        c.iid
                    )]}),
                );
            }
            let iid = st.mrs.iter().filter(|m| m.project == target).count() as u64 + 1;
            let labels = text("labels")
                .map(|l| {
                    l.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let mr = Mr {
                iid,
                project: target,
                source_project: source,
                source_branch,
                target_branch,
                title,
                description: text("description").unwrap_or_default(),
                open: true,
                labels,
                reviewer_ids: vec![],
                merge: MergeState::default(),
                squashed: false,
            };
            let v = mr_json(&mr, st, base);
            st.mrs.push(mr);
            Resp::json(201, &v)
        }
        ("GET", ["projects", id, "merge_requests", iid]) => {
            let Some(project) = project_id(st, id) else {
                return error(404, "404 Project Not Found");
            };
            let merging = st.merging.clone();
            let Some(mr) = st
                .mrs
                .iter_mut()
                .find(|m| m.project == project && iid.parse() == Ok(m.iid))
            else {
                return error(404, "404 Not found");
            };
            if mr.open {
                merging.settle(
                    &mut mr.merge,
                    &mr.target_branch,
                    &mr.source_branch,
                    &mr.title,
                );
                mr.open = mr.merge.merged.is_none();
            }
            let mr = mr.clone();
            Resp::json(200, &mr_json(&mr, st, base))
        }
        ("PUT", ["projects", id, "merge_requests", iid, "merge"]) => {
            let Some(project) = project_id(st, id) else {
                return error(404, "404 Project Not Found");
            };
            let merging = st.merging.clone();
            let Some(mr) = st
                .mrs
                .iter_mut()
                .find(|m| m.project == project && iid.parse() == Ok(m.iid))
            else {
                return error(404, "404 Not found");
            };
            if let Err(r) = merge(&body, mr, &merging) {
                return r;
            }
            let mr = mr.clone();
            Resp::json(200, &mr_json(&mr, st, base))
        }
        ("PUT", ["projects", id, "merge_requests", iid]) => {
            let Some(project) = project_id(st, id) else {
                return error(404, "404 Project Not Found");
            };
            let known = [
                "title",
                "description",
                "add_labels",
                "labels",
                "reviewer_ids",
                "target_branch",
                "state_event",
            ];
            if !body
                .as_object()
                .is_some_and(|o| o.keys().any(|k| known.contains(&k.as_str())))
            {
                return Resp::json(
                    400,
                    &json!({"error": "title, description, add_labels, labels, reviewer_ids, target_branch, state_event are missing, at least one parameter must be provided"}),
                );
            }
            let users = st.users.len() as u64;
            let Some(mr) = st
                .mrs
                .iter_mut()
                .find(|m| m.project == project && iid.parse() == Ok(m.iid))
            else {
                return error(404, "404 Not found");
            };
            if let Some(t) = text("title") {
                mr.title = t;
            }
            if let Some(d) = text("description") {
                mr.description = d;
            }
            if let Some(l) = text("add_labels") {
                for l in l.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !mr.labels.iter().any(|x| x == l) {
                        mr.labels.push(l.into());
                    }
                }
            }
            if let Some(ids) = body.get("reviewer_ids").and_then(Value::as_array) {
                let ids: Vec<u64> = ids.iter().filter_map(Value::as_u64).collect();
                if ids.iter().any(|id| *id < 100 || *id >= 100 + users) {
                    return error(400, "reviewer_ids is invalid");
                }
                mr.reviewer_ids = ids;
            }
            let mr = mr.clone();
            Resp::json(200, &mr_json(&mr, st, base))
        }
        _ => error(404, "404 Not Found"),
    }
}

/// The attributes of `PUT .../merge` (contracts/gitlab/merge.notes.md). GitLab ignores others;
/// the fake refuses them, so that a misspelt one cannot go unnoticed.
const MERGE_ATTRIBUTES: &[&str] = &[
    "auto_merge",
    "merge_commit_message",
    "merge_when_pipeline_succeeds",
    "sha",
    "should_remove_source_branch",
    "squash_commit_message",
    "squash",
];

/// `PUT .../merge`: 409 a `sha` that is not the head, 405 cannot merge now (unless auto-merge
/// is asked: then it is set), 422 git could not merge; else merged.
fn merge(body: &Value, mr: &mut Mr, m: &Merging) -> Result<(), Resp> {
    if let Some(k) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !MERGE_ATTRIBUTES.contains(&k.as_str())))
    {
        return Err(Resp::json(
            400,
            &json!({"error": format!("{k} is not an attribute of this endpoint")}),
        ));
    }
    if !mr.open {
        return Err(error(405, "405 Method Not Allowed"));
    }
    let flag = |k: &str| body.get(k).and_then(Value::as_bool) == Some(true);
    let auto = flag("auto_merge") || flag("merge_when_pipeline_succeeds");
    let method = if flag("squash") { "squash" } else { "merge" };
    let title = format!(
        "Merge branch '{}' into '{}'",
        mr.source_branch, mr.target_branch
    );
    let sha = body.get("sha").and_then(Value::as_str);
    match m.merge(
        &mut mr.merge,
        &mr.target_branch,
        &mr.source_branch,
        method,
        sha,
        &title,
    ) {
        Ok(_) => {
            mr.open = false;
            mr.squashed = method == "squash";
            Ok(())
        }
        Err(Refusal::Stale) => Err(error(409, "SHA does not match HEAD of source branch")),
        Err(Refusal::Pending) if auto => {
            mr.merge.auto = Some(method.into());
            mr.squashed = method == "squash";
            Ok(())
        }
        Err(Refusal::Conflict(_)) => Err(error(422, "Branch cannot be merged")),
        Err(_) => Err(error(405, "405 Method Not Allowed")),
    }
}
