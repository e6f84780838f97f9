//! The objects to apply: parsed from apply files into compact JSON, within the run's limits.

use serde_json::Value;

use super::{
    expansion::{self, Budget, Refused},
    model::{Error, MAX_APPLY_BYTES, MAX_OBJECTS, Object},
};
use crate::plan::names::RepoPath;

/// What one run has parsed of its apply files so far, against the limits above.
#[derive(Debug, Default)]
pub(crate) struct ApplyBudget {
    bytes: usize,
    objects: usize,
    expanded: Budget,
}

impl ApplyBudget {
    /// Parses one apply file, counting it against the run's limits: its bytes, then what it
    /// expands to and how many documents it holds (counted from the parser's events, before
    /// anything is built), then its objects.
    pub(crate) fn parse(&mut self, path: &RepoPath, text: &str) -> Result<Vec<Object>, Error> {
        self.bytes += text.len();
        if self.bytes > MAX_APPLY_BYTES {
            return Err(limit(
                path,
                format!(
                    "brings the apply files to {} bytes, over the {MAX_APPLY_BYTES}-byte limit of one run",
                    self.bytes
                ),
            ));
        }
        let e = measured(path, text, self.expanded)?;
        self.expanded = self.expanded.after(&e);
        self.objects += e.documents;
        if self.objects > MAX_OBJECTS {
            return Err(limit(
                path,
                format!(
                    "brings the objects to apply to more than {MAX_OBJECTS}, over the {MAX_OBJECTS}-object limit of one run"
                ),
            ));
        }
        parse_measured(path, text)
    }
}

fn limit(path: &RepoPath, what: String) -> Error {
    Error::ApplyLimit {
        path: path.to_string(),
        what,
    }
}

/// What `text` expands to, within `budget`. A file that is over the budget on its own is not
/// YAML this tool takes (like serde-saphyr's own refusal of an alias flood); one that only
/// brings the run's files over it is over the run's limit.
fn measured(path: &RepoPath, text: &str, budget: Budget) -> Result<expansion::Expansion, Error> {
    expansion::measure(text, budget).map_err(|e| match e {
        Refused::Parse(reason) => Error::BadYaml {
            path: path.to_string(),
            reason,
        },
        over if budget == Budget::default() => Error::BadYaml {
            path: path.to_string(),
            reason: over.to_string(),
        },
        over => limit(path, over.to_string()),
    })
}

/// Parses a multi-document YAML file into objects; empty documents are skipped, like kubectl.
pub fn parse_objects(path: &RepoPath, text: &str) -> Result<Vec<Object>, Error> {
    let e = measured(path, text, Budget::default())?;
    if e.documents > MAX_OBJECTS {
        return Err(limit(
            path,
            format!("holds more than {MAX_OBJECTS} objects (the limit of one run)"),
        ));
    }
    parse_measured(path, text)
}

/// [`parse_objects`] for a text already measured.
fn parse_measured(path: &RepoPath, text: &str) -> Result<Vec<Object>, Error> {
    // Measured first, so what serde-saphyr builds is bounded: aliases included. Each
    // document becomes an `Object` as soon as it is parsed, so only one document's `Value`
    // tree exists at a time.
    let docs: Objects =
        serde_saphyr::from_str_multiple::<Value, Objects>(text).map_err(|e| Error::BadYaml {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
    let mut out = vec![];
    for (i, doc) in docs.0.into_iter().enumerate() {
        out.push(to_object(path, i + 1, doc)?);
    }
    Ok(out)
}

/// The documents of an apply file, each kept as compact JSON text as it is parsed.
#[derive(Default)]
struct Objects(Vec<Value>);

impl Extend<Value> for Objects {
    fn extend<I: IntoIterator<Item = Value>>(&mut self, docs: I) {
        // NB: kept as `Value::String` of the compact JSON until `to_object` checks the fields;
        // a non-object document is kept as it is (small), for the message.
        for doc in docs {
            self.0.push(match doc {
                Value::Object(_) => Value::String(doc.to_string()),
                other => Value::Array(vec![other]),
            });
        }
    }
}

/// One parsed document (`Value::String` of its JSON, or `[other]` when it is no mapping).
fn to_object(path: &RepoPath, doc_no: usize, doc: Value) -> Result<Object, Error> {
    let bad = |reason: &str| Error::NotAnObject {
        path: path.to_string(),
        doc: doc_no,
        reason: reason.into(),
    };
    let Value::String(json) = doc else {
        return Err(bad("it is not a mapping"));
    };
    /// The fields read here; the rest stays text.
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "apiVersion", default)]
        api_version: Value,
        #[serde(default)]
        kind: Value,
        #[serde(default)]
        metadata: Value,
    }
    let head: Head = serde_json::from_str(&json).map_err(|_| bad("it is not a mapping"))?;
    let api_version = text_of(&head.api_version).ok_or_else(|| bad("no apiVersion"))?;
    let kind = text_of(&head.kind).ok_or_else(|| bad("no kind"))?;
    if kind.ends_with("List") {
        return Err(bad(
            "List kinds cannot be server-side applied; write each object as its own document",
        ));
    }
    let meta = head
        .metadata
        .as_object()
        .ok_or_else(|| bad("no metadata"))?;
    let name = meta
        .get("name")
        .and_then(text_of)
        .ok_or_else(|| bad("no metadata.name (generateName cannot be applied)"))?;
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let body =
        serde_json::value::RawValue::from_string(json).expect("serde_json wrote this JSON itself");
    Ok(Object {
        file: path.clone(),
        api_version,
        kind,
        name,
        namespace,
        body,
    })
}

fn text_of(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}
