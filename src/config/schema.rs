//! The JSON Schema of every input (`task-spec/schema.json`).

use super::{args::Args, promotion};

/// The inputs that take one of a few values, with those values: the lists their validators
/// are held to (`every_choice_the_schema_offers_validates_and_no_other`).
pub(crate) fn choices() -> [(&'static str, Vec<&'static str>); 6] {
    use super::{merge, output, task};
    let providers = crate::host::Kind::NAMES
        .into_iter()
        .chain(crate::host::Kind::ALIASES)
        .collect();
    [
        ("GITOPS_TASK", task::TASKS.to_vec()),
        ("GITOPS_MODE", task::MODES.to_vec()),
        ("GITOPS_PROVIDER", providers),
        ("GITOPS_MERGE", merge::POLICIES.to_vec()),
        ("GITOPS_MERGE_METHOD", merge::METHODS.to_vec()),
        ("GITOPS_LOG_FORMAT", output::LOG_FORMATS.to_vec()),
    ]
}

/// The JSON Schema of every input (`task-spec/schema.json`), generated from the flag
/// definitions above so that the two cannot disagree: each property is an environment
/// variable, with its flag (`x-flag`), meaning and default.
pub fn schema() -> serde_json::Value {
    use clap::Args as _;
    let cmd = Args::augment_args(clap::Command::new("iter8-gitops"));
    let mut props = serde_json::Map::new();
    for arg in cmd.get_arguments() {
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let (text, var) = match (help.rfind(" ["), help.ends_with(']')) {
            (Some(i), true) => (
                help[..i].to_string(),
                help[i + 2..help.len() - 1].to_string(),
            ),
            _ => (
                help.clone(),
                format!("GITOPS_{}", arg.get_id().as_str().to_uppercase()),
            ),
        };
        let default = text.find("(default: ").map(|i| {
            let rest = &text[i + "(default: ".len()..];
            rest[..rest.rfind(')').unwrap_or(rest.len())].to_string()
        });
        let mut p = serde_json::json!({"type": "string", "description": text});
        if let Some(long) = arg.get_long() {
            p["x-flag"] = serde_json::json!(format!("--{long}"));
        }
        if arg.is_positional() {
            p["x-argument"] = serde_json::json!("the first command-line argument");
        }
        if let Some((_, values)) = choices().into_iter().find(|(v, _)| *v == var) {
            p["enum"] = serde_json::json!(values);
        }
        if let Some(d) = default {
            p["default"] = serde_json::json!(d);
        }
        props.insert(var, p);
    }
    props.insert(
        "GITOPS_TOKEN".into(),
        serde_json::json!({"type": "string", "description": "The token itself, for local debugging; skips the Secret. Environment only: no flag, so it never reaches argv"}),
    );
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/iter8-tools/iter8-gitops/task-spec/schema.json",
        "title": "iter8-gitops inputs",
        "description": "Environment variables of iter8-gitops; each but GITOPS_TOKEN is also a flag (x-flag), and flags win. For finish (the default task), GITOPS_BASELINE is required, and GITOPS_WINNER unless EXPERIMENT_NAME and EXPERIMENT_NAMESPACE are set; start needs GITOPS_VERSION.",
        "type": "object",
        "properties": props,
        "required": ["GITOPS_REPO", "GITOPS_BRANCH"],
        "if": {"properties": {"GITOPS_TASK": {"const": "start"}}, "required": ["GITOPS_TASK"]},
        "then": {"required": ["GITOPS_VERSION"]},
        "else": {"anyOf": [
            {"required": ["GITOPS_BASELINE"]},
            {"required": ["GITOPS_CONFIG"]},
            {"required": ["GITOPS_CONFIG_IN_REPO"]}
        ]},
        "$defs": {"promotionFile": promotion::schema()},
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::{super::defaults, schema};

    /// The defaults the help text states (and so the schema and docs/inputs.md, which a test
    /// holds to the schema) are the ones validation applies, named once in `defaults.rs`.
    #[test]
    fn the_help_states_the_defaults_the_code_applies() {
        let s = schema();
        let stated = |var: &str| s["properties"][var]["default"].as_str().map(str::to_string);
        let timeout = format!("{}s", defaults::TIMEOUT_SECS);
        let table = [
            ("GITOPS_TOKEN_SECRET", defaults::TOKEN_SECRET),
            ("GITOPS_TOKEN_KEY", defaults::TOKEN_KEY),
            ("GITOPS_GITHUB_APP_KEY", defaults::GITHUB_APP_KEY),
            ("GITOPS_TEMPLATES", defaults::TEMPLATES),
            ("GITOPS_PR_BRANCH", defaults::PR_BRANCH),
            ("GITOPS_PR_TITLE", defaults::PR_TITLE),
            ("GITOPS_COMMIT_MESSAGE", defaults::COMMIT_MESSAGE),
            ("GITOPS_AUTHOR_NAME", defaults::AUTHOR_NAME),
            ("GITOPS_AUTHOR_EMAIL", defaults::AUTHOR_EMAIL),
            ("GITOPS_FIELD_MANAGER", defaults::FIELD_MANAGER),
            ("GITOPS_WINNER_VARIABLE", defaults::WINNER_VARIABLE),
            ("GITOPS_TIMEOUT", &timeout),
            ("GITOPS_TERMINATION_LOG", defaults::TERMINATION_LOG),
            ("GITOPS_LISTEN", defaults::LISTEN),
            ("GITOPS_USERNAME", crate::host::Kind::git_username(None)),
        ];
        for (var, applied) in table {
            assert_eq!(stated(var).as_deref(), Some(applied), "{var}");
        }
    }
}
