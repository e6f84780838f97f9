//! The receiver's routes, pure: which webhook a request is, and the workload it points at.
//! The body is a pointer, never authority: only `name` and `namespace` are taken from it
//! (Flagger's `phase` and `checksum` are not trusted; the receiver reads the object).

use serde_json::Value;

use super::http::{Answer, Request};
use crate::plan::revert::Controller;

/// A workload a webhook points at, as sent (not yet known to be listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub controller: Controller,
    pub namespace: String,
    pub name: String,
}

/// What a request asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`: the process answers.
    Health,
    /// `/readyz`: it takes webhooks (not while shutting down).
    Ready,
    /// A controller's webhook.
    Hook(Pointer),
}

/// The route of `req`, or the answer that refuses it.
pub fn route(req: &Request) -> Result<Route, Answer> {
    let path = req.path.split('?').next().unwrap_or_default();
    let controller = match path {
        "/healthz" | "/readyz" if req.method == "GET" => {
            return Ok(if path == "/healthz" {
                Route::Health
            } else {
                Route::Ready
            });
        }
        "/flagger" => Controller::Flagger,
        "/argo-rollouts" => Controller::ArgoRollouts,
        "/healthz" | "/readyz" => return Err(Answer::new(405, "use GET")),
        _ => {
            return Err(Answer::new(
                404,
                "no such route: POST /flagger, POST /argo-rollouts, GET /healthz, GET /readyz",
            ));
        }
    };
    if req.method != "POST" {
        return Err(Answer::new(405, "webhooks are POSTed"));
    }
    // What every webhook body must hold; other fields (Flagger's `phase`, `checksum`,
    // `metadata`) are ignored.
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    let field = |k: &str| Some(body.as_ref()?.get(k)?.as_str()?.to_string());
    match (field("name"), field("namespace")) {
        (Some(name), Some(namespace)) => Ok(Route::Hook(Pointer {
            controller,
            namespace,
            name,
        })),
        _ => Err(Answer::new(
            400,
            "the body is not JSON with string fields name and namespace",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, body: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn flaggers_payload_points_at_its_canary() {
        // As Flagger's CallWebhook sends it (pkg/controller/webhook.go).
        let body = r#"{"name":"podinfo","namespace":"test","phase":"Failed","checksum":"85d557f47b","metadata":{"some":"message"}}"#;
        assert_eq!(
            route(&req("POST", "/flagger", body)),
            Ok(Route::Hook(Pointer {
                controller: Controller::Flagger,
                namespace: "test".into(),
                name: "podinfo".into()
            }))
        );
    }

    #[test]
    fn what_is_not_a_webhook_is_refused() {
        let status = |m, p, b| route(&req(m, p, b)).err().map(|a| a.status);
        assert_eq!(status("POST", "/flux", "{}"), Some(404));
        assert_eq!(status("GET", "/flagger", ""), Some(405));
        assert_eq!(status("POST", "/argo-rollouts", "{\"name\": 1}"), Some(400));
        assert_eq!(status("POST", "/argo-rollouts", "not json"), Some(400));
        assert_eq!(route(&req("GET", "/readyz", "")), Ok(Route::Ready));
    }
}
