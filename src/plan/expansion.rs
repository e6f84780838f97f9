//! Pure: what a YAML text becomes once its aliases are expanded, counted from the parser's
//! events without building it.
//!
//! serde-saphyr bounds how many aliases a file holds and how deep it nests, not what the
//! aliases expand to: `b: [*a, *a, …]` sixty times over a 900 KB anchor is a 54 MB value, and
//! a 54.9 MB PATCH to the API server. Aliases are allowed (real manifests share a label block
//! that way), but counted: each anchor's expanded size is remembered, each alias adds it, and
//! the count is checked against the budget at every step, so a bomb is refused after reading
//! the file once, in memory that does not depend on what it would expand to. The bytes
//! counted are those of the value as JSON (each scalar with its quotes and a separator),
//! since that is what is sent.

use granit_parser::{Event, Parser};

use crate::limits::{MAX_YAML_EXPANDED_BYTES, MAX_YAML_NODES};

/// What a YAML text expands to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Expansion {
    /// About the size of its documents as JSON.
    pub bytes: u64,
    /// Scalars, sequences and mappings.
    pub nodes: u64,
    /// Documents holding a value (an empty document between `---` lines is not one).
    pub documents: usize,
}

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("is not valid YAML: {0}")]
    Parse(String),
    #[error(
        "expands to more than {limit} bytes (its aliases repeat what they point to); write the values out, or split the file"
    )]
    Bytes { limit: u64 },
    #[error(
        "expands to more than {limit} values (its aliases repeat what they point to); write the values out, or split the file"
    )]
    Nodes { limit: u64 },
}

/// The budget left for a run's files (apply files share one); a single file gets a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    pub nodes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            bytes: MAX_YAML_EXPANDED_BYTES,
            nodes: MAX_YAML_NODES,
        }
    }
}

impl Budget {
    /// The budget after `e` was spent from it.
    pub fn after(self, e: &Expansion) -> Budget {
        Budget {
            bytes: self.bytes.saturating_sub(e.bytes),
            nodes: self.nodes.saturating_sub(e.nodes),
        }
    }
}

/// Counts what `text` expands to, refusing it as soon as that passes `budget`.
pub fn measure(text: &str, budget: Budget) -> Result<Expansion, Refused> {
    let mut parser = Parser::new_from_str(text);
    let mut total = Expansion::default();
    // Each anchor's expanded size, and the anchored collections still open (with the count
    // at their start).
    // Anchor ids are the parser's counter (1, 2, …): a vector indexed by id.
    let mut anchors: Vec<(u64, u64)> = vec![];
    let record = |anchors: &mut Vec<(u64, u64)>, id: usize, size: (u64, u64)| {
        if anchors.len() <= id {
            anchors.resize(id + 1, (0, 0));
        }
        anchors[id] = size;
    };
    let mut open: Vec<(usize, u64, u64)> = vec![];
    let mut counted_doc = false;
    while let Some(ev) = parser.next_event() {
        let (ev, _) = ev.map_err(|e| Refused::Parse(e.to_string()))?;
        let (bytes, nodes) = match ev {
            Event::DocumentStart(..) => {
                counted_doc = false;
                continue;
            }
            // An empty document is one plain null (`~`); kubectl and serde-saphyr skip it.
            Event::Scalar(value, granit_parser::ScalarStyle::Plain, 0, None)
                if matches!(&*value, "" | "~" | "null" | "Null" | "NULL")
                    && open.is_empty()
                    && !counted_doc =>
            {
                continue;
            }
            Event::Scalar(value, _, anchor, _) => {
                let size = (value.len() as u64 + 3, 1);
                if anchor != 0 {
                    record(&mut anchors, anchor, size);
                }
                size
            }
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                open.push((anchor, total.bytes, total.nodes));
                (2, 1)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, b, n)) = open.pop()
                    && anchor != 0
                {
                    record(&mut anchors, anchor, (total.bytes - b, total.nodes - n));
                }
                continue;
            }
            // An alias the parser could not resolve is its error, reported when the text is
            // deserialized; it expands to nothing here.
            Event::Alias(id) => anchors.get(id).copied().unwrap_or((0, 0)),
            _ => continue,
        };
        if !counted_doc {
            counted_doc = true;
            total.documents += 1;
        }
        total.bytes = total.bytes.saturating_add(bytes);
        total.nodes = total.nodes.saturating_add(nodes);
        if total.bytes > budget.bytes {
            return Err(Refused::Bytes {
                limit: MAX_YAML_EXPANDED_BYTES,
            });
        }
        if total.nodes > budget.nodes {
            return Err(Refused::Nodes {
                limit: MAX_YAML_NODES,
            });
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_manifests_count_about_their_json_size() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\n---\nkind: B\n";
        let e = measure(text, Budget::default()).unwrap();
        assert_eq!(e.documents, 2, "the empty document is not one");
        assert_eq!(e.nodes, 13 + 3);
        let json: usize = serde_saphyr::from_multiple::<serde_json::Value>(text)
            .unwrap()
            .iter()
            .map(|v| v.to_string().len())
            .sum();
        assert!(e.bytes as usize >= json, "{} < {json}", e.bytes);
    }

    #[test]
    fn an_alias_counts_what_its_anchor_expands_to_nested_ones_too() {
        let text = "a: &a {x: &x \"0123456789\", y: [*x, *x]}\nb: [*a, *a]\n";
        let e = measure(text, Budget::default()).unwrap();
        // The anchor `a` is 7 nodes (the mapping, x and its value, y, the list and its two
        // aliases of x); `b` is a list holding it twice more.
        let a = 1 + 2 + 1 + 1 + 2;
        assert_eq!(e.nodes, 1 + 1 + a + 1 + 1 + 2 * a);
    }

    #[test]
    fn the_billion_laughs_is_refused_after_a_few_levels_without_building_anything() {
        let mut text = String::from("a0: &a0 \"lol\"\n");
        for i in 1..30 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = measure(&text, Budget::default()).unwrap_err();
        assert!(
            matches!(e, Refused::Nodes { .. } | Refused::Bytes { .. }),
            "{e}"
        );
    }

    #[test]
    fn a_large_string_repeated_by_aliases_is_refused_by_its_bytes() {
        // The case: 900 KB under one anchor, referenced 60 times (54 MB as JSON).
        let big = "x".repeat(900_000);
        let aliases = vec!["*a"; 60].join(", ");
        let text = format!("data: {{a: &a \"{big}\", b: [{aliases}]}}\n");
        assert_eq!(
            measure(&text, Budget::default()).unwrap_err(),
            Refused::Bytes {
                limit: MAX_YAML_EXPANDED_BYTES
            }
        );
        // Four references fit.
        let text = format!("data: {{a: &a \"{big}\", b: [*a, *a, *a]}}\n");
        assert!(measure(&text, Budget::default()).is_ok());
    }

    #[test]
    fn a_shared_budget_refuses_the_file_that_passes_it() {
        let text = "k: &k [1, 2, 3]\nl: [*k, *k]\n";
        let first = measure(text, Budget::default()).unwrap();
        let left = Budget::default().after(&first);
        assert_eq!(left.nodes, MAX_YAML_NODES - first.nodes);
        let tight = Budget {
            bytes: 10,
            nodes: 100,
        };
        assert!(measure(text, tight).is_err());
    }

    #[test]
    fn text_that_is_not_yaml_is_refused_with_the_parsers_reason() {
        let e = measure("a: [1, 2\nb: }\n", Budget::default()).unwrap_err();
        assert!(matches!(e, Refused::Parse(_)), "{e:?}");
    }
}
