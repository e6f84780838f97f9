//! Format-preserving YAML edits. The text is parsed with granit-parser (the parser under
//! serde-saphyr) into nodes that know their byte spans; an edit replaces the bytes of exactly
//! one scalar, or inserts the lines of a key that is missing. Comments, key order, quoting,
//! indentation, anchors, document separators and line endings stay as they were, because
//! nothing else is ever written: there is no re-serialization.

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

/// A parsed node and where it is.
#[derive(Debug, Clone)]
pub enum Node {
    Scalar {
        value: String,
        style: ScalarStyle,
        start: usize,
        end: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        block: bool,
        start: usize,
        end: usize,
    },
    Seq {
        items: Vec<Node>,
        block: bool,
        start: usize,
        end: usize,
    },
    Alias {
        start: usize,
    },
}

impl Node {
    fn start(&self) -> usize {
        match self {
            Node::Scalar { start, .. }
            | Node::Map { start, .. }
            | Node::Seq { start, .. }
            | Node::Alias { start } => *start,
        }
    }

    /// The last byte that belongs to this node's content (for block collections: the end of
    /// their last child).
    fn last(&self) -> usize {
        match self {
            Node::Scalar { end, .. } => *end,
            Node::Map { entries, end, .. } => entries.last().map_or(*end, |(_, v)| v.last()),
            Node::Seq { items, end, .. } => items.last().map_or(*end, Node::last),
            Node::Alias { start } => *start,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value under `key`, for a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why an edit cannot be made; the caller adds the file and the edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("is not valid YAML: {0}")]
    Parse(String),
    #[error("has no {0:?} (set `create: true` to add it)")]
    Missing(String),
    #[error("{0:?} goes through a scalar, not a mapping or a list")]
    ThroughScalar(String),
    #[error("{0:?} is a mapping or a list, not a scalar value")]
    NotScalar(String),
    #[error("selector {0:?} matches no item")]
    NoMatch(String),
    #[error("selector {0:?} matches {1} items; make it match one")]
    ManyMatches(String, usize),
    #[error("{0:?} is an alias; edit the anchored value instead")]
    Alias(String),
    #[error("{0:?} is in flow style ({{…}} or […]); only block style can get new keys")]
    Flow(String),
    #[error("{0:?} is a block scalar (| or >); it cannot be set in place")]
    BlockScalar(String),
    #[error("path {0:?} is not valid: {1}")]
    BadPath(String, String),
    #[error("the path is in no document")]
    NoDocument,
    #[error(
        "{0:?} cannot be set in this file's layout (complex keys, or a layout the edit would change); edit it by hand"
    )]
    Layout(String),
    #[error("the path is in {0} documents; say which with `document`, or set `all: true`")]
    ManyDocuments(usize),
    #[error(
        "has the key {0:?} twice in one mapping; YAML forbids it and tools disagree on which counts (Helm reads the last): remove one"
    )]
    Duplicate(String),
}

/// Parses every document of `text`.
pub fn parse(text: &str) -> Result<Vec<Node>, Error> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Node> = vec![];
    let mut keys: Vec<Option<Node>> = vec![];
    let mut docs = vec![];
    let offset = |m: &granit_parser::Marker| -> usize {
        m.byte_offset().unwrap_or_else(|| {
            // Char index to byte index, for inputs that do not track bytes.
            text.char_indices()
                .nth(m.index())
                .map_or(text.len(), |(b, _)| b)
        })
    };
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| Error::Parse(e.to_string()))?;
        let (start, end) = (offset(&span.start), offset(&span.end));
        let node = match ev {
            Event::MappingStart(style, ..) => {
                stack.push(Node::Map {
                    entries: vec![],
                    block: style == StructureStyle::Block,
                    start,
                    end,
                });
                keys.push(None);
                continue;
            }
            Event::SequenceStart(style, ..) => {
                stack.push(Node::Seq {
                    items: vec![],
                    block: style == StructureStyle::Block,
                    start,
                    end,
                });
                keys.push(None);
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => {
                keys.pop();
                let mut n = stack.pop().ok_or(Error::Parse("unbalanced".into()))?;
                if let Node::Map { end: e, .. } | Node::Seq { end: e, .. } = &mut n {
                    *e = end;
                }
                n
            }
            Event::Scalar(value, style, ..) => Node::Scalar {
                value: value.into_owned(),
                style,
                start,
                end,
            },
            Event::Alias(_) | Event::UnresolvedAlias(_) => Node::Alias { start },
            _ => continue,
        };
        attach(&mut stack, &mut keys, &mut docs, node)?;
    }
    Ok(docs)
}

/// Attaches a finished node to its parent collection (as a key, or as the value of the key
/// before it), or ends a document.
fn attach(
    stack: &mut [Node],
    keys: &mut [Option<Node>],
    docs: &mut Vec<Node>,
    node: Node,
) -> Result<(), Error> {
    match stack.last_mut() {
        None => docs.push(node),
        Some(Node::Seq { items, .. }) => items.push(node),
        Some(Node::Map { entries, .. }) => {
            let slot = keys.last_mut().expect("a key slot per open collection");
            match slot.take() {
                None => *slot = Some(node),
                Some(k) => {
                    // YAML forbids it, and tools disagree on which one counts (Helm
                    // reads the last, an edit would change the first): refuse.
                    if let Some(name) = k.as_str()
                        && entries
                            .iter()
                            .any(|(other, _)| other.as_str() == Some(name))
                    {
                        return Err(Error::Duplicate(name.to_string()));
                    }
                    entries.push((k, node))
                }
            }
        }
        Some(_) => unreachable!("only collections are on the stack"),
    }
    Ok(())
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// `[key=value]`: the one list item whose `key` is `value`.
    Select(String, String),
}

/// Parses `a.b[name=x].c[0]`; `\.` is a dot inside a key (Helm's `a\.b`).
pub fn parse_path(s: &str) -> Result<Vec<Seg>, Error> {
    let bad = |why: &str| Error::BadPath(s.into(), why.into());
    let mut segs = vec![];
    let mut key = String::new();
    let mut chars = s.chars().peekable();
    let flush = |key: &mut String, segs: &mut Vec<Seg>| {
        if !key.is_empty() {
            segs.push(Seg::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => key.push(n),
                None => return Err(bad("ends with '\\'")),
            },
            '.' => {
                if key.is_empty() && !matches!(segs.last(), Some(Seg::Index(_) | Seg::Select(..))) {
                    return Err(bad("has an empty key"));
                }
                flush(&mut key, &mut segs);
            }
            '[' => {
                flush(&mut key, &mut segs);
                let inner: String = chars.by_ref().take_while(|c| *c != ']').collect();
                match inner.split_once('=') {
                    Some((k, v)) if !k.trim().is_empty() => {
                        segs.push(Seg::Select(k.trim().into(), v.trim().into()))
                    }
                    Some(_) => return Err(bad("has a selector without a key")),
                    None => segs.push(Seg::Index(
                        inner.trim().parse().map_err(|_| bad("has a bad index"))?,
                    )),
                }
            }
            c => key.push(c),
        }
    }
    flush(&mut key, &mut segs);
    if segs.is_empty() {
        return Err(bad("is empty"));
    }
    Ok(segs)
}

fn show(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
            Seg::Select(k, v) => s.push_str(&format!("[{k}={v}]")),
        }
    }
    s
}

/// Where a set lands.
enum Target<'a> {
    /// Replace this scalar.
    Scalar(&'a Node),
    /// Add `rest` (keys only) under this block mapping.
    Insert { map: &'a Node, rest: Vec<String> },
}

fn resolve<'a>(node: &'a Node, path: &[Seg], create: bool) -> Result<Target<'a>, Error> {
    let mut cur = node;
    for (i, seg) in path.iter().enumerate() {
        let here = show(&path[..=i]);
        if let Node::Alias { .. } = cur {
            return Err(Error::Alias(show(&path[..i])));
        }
        cur = match (seg, cur) {
            (Seg::Key(k), Node::Map { .. }) => match cur.get(k) {
                Some(v) => v,
                None if create => {
                    let rest = path[i..]
                        .iter()
                        .map(|s| match s {
                            Seg::Key(k) => Ok(k.clone()),
                            _ => Err(Error::Missing(show(&path[..=i]))),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    return Ok(Target::Insert { map: cur, rest });
                }
                None => return Err(Error::Missing(here)),
            },
            (Seg::Index(n), Node::Seq { items, .. }) => {
                items.get(*n).ok_or_else(|| Error::Missing(here.clone()))?
            }
            (Seg::Select(k, v), Node::Seq { items, .. }) => {
                let hits: Vec<&Node> = items
                    .iter()
                    .filter(|it| it.get(k).and_then(Node::as_str) == Some(v))
                    .collect();
                match hits.as_slice() {
                    [one] => one,
                    [] => return Err(Error::NoMatch(here)),
                    many => return Err(Error::ManyMatches(here, many.len())),
                }
            }
            (_, Node::Scalar { .. }) => return Err(Error::ThroughScalar(show(&path[..i]))),
            (Seg::Key(_), _) => return Err(Error::Missing(here)),
            (_, _) => return Err(Error::Missing(here)),
        };
    }
    match cur {
        Node::Scalar { .. } => Ok(Target::Scalar(cur)),
        Node::Alias { .. } => Err(Error::Alias(show(path))),
        _ => Err(Error::NotScalar(show(path))),
    }
}

/// `value` as YAML text in `style` (or a style that keeps it a string).
fn render(value: &str, style: ScalarStyle) -> String {
    let single = || format!("'{}'", value.replace('\'', "''"));
    let double = || serde_json::Value::String(value.to_string()).to_string();
    match style {
        ScalarStyle::SingleQuoted if !value.contains('\n') => single(),
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => double(),
        _ if plain_is_safe(value) => value.to_string(),
        _ => double(),
    }
}

/// The quoting the file itself uses most, for a value that cannot stay plain where it goes
/// (`x, y` or `x}` inside a flow collection).
fn quoted_style(text: &str) -> ScalarStyle {
    if text.matches('\'').count() > text.matches('"').count() {
        ScalarStyle::SingleQuoted
    } else {
        ScalarStyle::DoubleQuoted
    }
}

/// True when `value` written plain reads back as the same string (not a number, a bool,
/// null, or YAML syntax).
fn plain_is_safe(value: &str) -> bool {
    !value.is_empty()
        && value.trim() == value
        && !value.contains(['\n', '#', '\''])
        && serde_saphyr::from_str::<serde_json::Value>(&format!("k: {value}\n"))
            .ok()
            .is_some_and(|v| v["k"].as_str() == Some(value))
}

/// True when `value` written plain is a valid YAML scalar (of whatever type).
fn parses_plain(value: &str) -> bool {
    serde_saphyr::from_str::<serde_json::Value>(&format!("k: {value}\n"))
        .ok()
        .is_some_and(|v| v["k"].is_number() || v["k"].is_boolean())
}

/// The byte where the line holding `at` begins.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The byte just past the line break after `at` (or the end of the text).
fn next_line(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// The line ending the file uses.
fn eol(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// The text edit for one target: (start, end, replacement).
fn splice(
    text: &str,
    target: Target<'_>,
    value: &str,
    path: &[Seg],
) -> Result<(usize, usize, String), Error> {
    match target {
        Target::Scalar(node @ Node::Scalar { .. }) => replace_scalar(text, node, value, path),
        Target::Insert { map, rest } => insert_keys(text, map, &rest, value, path),
        Target::Scalar(_) => unreachable!("resolve returns scalars only"),
    }
}

/// Replaces a scalar's text, keeping its anchor or tag, and its type where it can.
fn replace_scalar(
    text: &str,
    node: &Node,
    value: &str,
    path: &[Seg],
) -> Result<(usize, usize, String), Error> {
    let Node::Scalar {
        style,
        start,
        end,
        value: old,
    } = node
    else {
        unreachable!("called for scalars")
    };
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
        return Err(Error::BlockScalar(show(path)));
    }
    // The span may include an anchor or tag before the value: keep them.
    let raw = &text[*start..*end];
    let skip = raw
        .split_inclusive(char::is_whitespace)
        .take_while(|t| t.starts_with('&') || t.starts_with('!'))
        .map(str::len)
        .sum::<usize>();
    if old == value {
        return Ok((*start, *start, String::new()));
    }
    // An empty value (`key:` with nothing after it) has no text to replace: write after the
    // colon. Anything else without text (`? key`) is refused: writing there would merge with
    // the key (found by the yaml_set fuzzer).
    if start == end {
        // The parser puts an empty value right after its key: find the colon.
        let after = &text[*start..];
        let rest = after.trim_start_matches([' ', '\t']);
        if !rest.starts_with(':') {
            return Err(Error::NotScalar(show(path)));
        }
        let at = *start + (after.len() - rest.len()) + 1;
        return Ok((at, at, format!(" {}", render(value, ScalarStyle::Plain))));
    }
    // The value keeps the original's type: a plain number stays a number (a port), a plain
    // string stays a string (a tag like 1.10 gets quotes).
    let text = if *style == ScalarStyle::Plain
        && !plain_is_safe(old)
        && !value.is_empty()
        && !value.contains(['\n', '#'])
        && !plain_is_safe(value)
        && parses_plain(value)
    {
        value.to_string()
    } else {
        render(value, *style)
    };
    Ok((*start + skip, *end, text))
}

/// Adds the missing keys `rest` (and the value) under a block mapping, indented like its
/// first key, after its last entry's line.
fn insert_keys(
    text: &str,
    map: &Node,
    rest: &[String],
    value: &str,
    path: &[Seg],
) -> Result<(usize, usize, String), Error> {
    let Node::Map { entries, block, .. } = map else {
        unreachable!("inserts go under mappings")
    };
    if !block {
        return Err(Error::Flow(show(path)));
    }
    let nl = eol(text);
    let (indent, at) = match entries.first() {
        Some((k, _)) => (
            k.start() - line_start(text, k.start()),
            next_line(text, map.last()),
        ),
        None => return Err(Error::Flow(show(path))),
    };
    let mut out = String::new();
    if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        out.push_str(nl);
    }
    for (i, k) in rest.iter().enumerate() {
        out.push_str(&" ".repeat(indent + 2 * i));
        out.push_str(&render(k, ScalarStyle::Plain));
        if i + 1 == rest.len() {
            out.push_str(": ");
            out.push_str(&render(value, ScalarStyle::Plain));
        } else {
            out.push(':');
        }
        out.push_str(nl);
    }
    Ok((at, at, out))
}

/// The scalar values at `path`, one per document that has it.
pub fn values_at(text: &str, path: &[Seg]) -> Result<Vec<String>, Error> {
    Ok(parse(text)?
        .iter()
        .filter_map(|d| match resolve(d, path, false) {
            Ok(Target::Scalar(n)) => n.as_str().map(str::to_string),
            _ => None,
        })
        .collect())
}

/// Which documents a set applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Docs {
    /// The one document where the path exists (an error if none or several).
    The,
    /// Document `n` (0-based).
    Nth(usize),
    /// Every document where the path exists (an error if none).
    All,
}

/// Sets the scalar at `path` to `value` in `text`, changing nothing else.
pub fn set(
    text: &str,
    path: &[Seg],
    value: &str,
    docs: Docs,
    create: bool,
) -> Result<String, Error> {
    let parsed = parse(text)?;
    let exists = |d: &Node| matches!(resolve(d, path, false), Ok(Target::Scalar(_)));
    let chosen: Vec<usize> = match docs {
        Docs::Nth(n) if n < parsed.len() => vec![n],
        Docs::Nth(_) => return Err(Error::NoDocument),
        Docs::The | Docs::All => {
            let hits: Vec<usize> = (0..parsed.len()).filter(|i| exists(&parsed[*i])).collect();
            match (docs, hits.len(), parsed.len()) {
                // Nothing has it yet: with `create`, a single document gets it.
                (_, 0, 1) if create => vec![0],
                (_, 0, _) => {
                    // The most telling reason: from a document that has the path's first key.
                    let first = Error::Missing(show(&path[..1]));
                    let why = parsed
                        .iter()
                        .filter_map(|d| resolve(d, path, false).err())
                        .find(|e| *e != first);
                    return Err(match (why, parsed.len()) {
                        (Some(e), _) => e,
                        (None, 1) => first,
                        (None, _) => Error::NoDocument,
                    });
                }
                (Docs::The, n, _) if n > 1 => return Err(Error::ManyDocuments(n)),
                _ => hits,
            }
        }
    };
    // A plain value first; where the context reads it otherwise (a `,` or `}` inside a flow
    // collection), the same value quoted in the file's style.
    match splice_all(text, &parsed, &chosen, path, value, create, None) {
        Err(Error::Layout(_)) => splice_all(
            text,
            &parsed,
            &chosen,
            path,
            value,
            create,
            Some(quoted_style(text)),
        ),
        other => other,
    }
}

/// Makes the edit in every chosen document; `quote` forces a quoted style for a plain value.
fn splice_all(
    text: &str,
    parsed: &[Node],
    chosen: &[usize],
    path: &[Seg],
    value: &str,
    create: bool,
    quote: Option<ScalarStyle>,
) -> Result<String, Error> {
    let mut edits = vec![];
    for &d in chosen {
        let t = resolve(&parsed[d], path, create)?;
        let (s, e, mut r) = splice(text, t, value, path)?;
        if let Some(style) = quote
            && r == value
        {
            r = render(value, style);
        }
        edits.push((s, e, r));
    }
    // Apply from the end so earlier offsets stay valid.
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (s, e, r) in edits {
        out.replace_range(s..e, &r);
    }
    // What was written must parse, and read back as the value where it was set: a guard
    // against a splice that an unusual layout would turn into something else.
    let Ok(after) = parse(&out) else {
        return Err(Error::Layout(show(path)));
    };
    for &d in chosen {
        match after.get(d).map(|doc| resolve(doc, path, false)) {
            Some(Ok(Target::Scalar(n))) if n.as_str() == Some(value) => {}
            _ => return Err(Error::Layout(show(path))),
        }
    }
    Ok(out)
}

/// Removes the scalar entry at `path` (its key's line, in a block mapping) from the first
/// document, changing nothing else; a missing one is no change. A key that shares its line with
/// other content (a flow mapping, the first key of a list item) is refused as a layout error.
pub fn remove(text: &str, path: &[Seg]) -> Result<String, Error> {
    let Some(Seg::Key(key)) = path.last() else {
        return Err(Error::BadPath(show(path), "must end in a key".into()));
    };
    let docs = parse(text)?;
    let doc = docs.first().ok_or(Error::NoDocument)?;
    let node = match resolve(doc, path, false) {
        Ok(Target::Scalar(n)) => n,
        Err(Error::Missing(_)) => return Ok(text.to_string()),
        Err(e) => return Err(e),
        Ok(Target::Insert { .. }) => unreachable!("resolve without create never inserts"),
    };
    let (start, end) = (line_start(text, node.start()), next_line(text, node.last()));
    if !text[start..end]
        .trim_start()
        .starts_with(&format!("{key}:"))
    {
        return Err(Error::Layout(show(path)));
    }
    let out = format!("{}{}", &text[..start], &text[end..]);
    // Gone, and nothing else moved: the guard `set` has too.
    match parse(&out).map(|d| d.first().map(|doc| resolve(doc, path, false).is_err())) {
        Ok(Some(true)) => Ok(out),
        _ => Err(Error::Layout(show(path))),
    }
}

/// Appends `item_lines` (already indented relative to the dash) as a new item of the block
/// sequence `seq`, or creates `key:` with it under the root mapping when `seq` is None.
pub fn append_item(
    text: &str,
    root: &Node,
    key: &str,
    fields: &[(&str, &str)],
) -> Result<String, Error> {
    let nl = eol(text);
    let (dash_indent, at) = match root.get(key) {
        Some(
            seq @ Node::Seq {
                items, block: true, ..
            },
        ) => match items.first() {
            Some(first) => {
                let ls = line_start(text, first.start());
                // The dash sits before the item's first key on its line.
                let dash = text[ls..first.start()].rfind('-').map_or(0, |d| d);
                (dash, next_line(text, seq.last()))
            }
            None => return Err(Error::Flow(key.into())),
        },
        Some(Node::Seq { .. }) => return Err(Error::Flow(key.into())),
        Some(_) => return Err(Error::NotScalar(key.into())),
        None => {
            // A new `key:` at the root's indentation, after its last entry.
            let Node::Map {
                entries,
                block: true,
                ..
            } = root
            else {
                return Err(Error::Flow(key.into()));
            };
            let indent = entries
                .first()
                .map_or(0, |(k, _)| k.start() - line_start(text, k.start()));
            let at = next_line(text, root.last());
            let mut out = String::new();
            if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
                out.push_str(nl);
            }
            out.push_str(&format!("{}{key}:{nl}", " ".repeat(indent)));
            out.push_str(&item(indent, fields, nl));
            let mut t = text.to_string();
            t.insert_str(at, &out);
            parse(&t)?;
            return Ok(t);
        }
    };
    let mut t = text.to_string();
    let mut add = String::new();
    if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        add.push_str(nl);
    }
    add.push_str(&item(dash_indent, fields, nl));
    t.insert_str(at, &add);
    parse(&t)?;
    Ok(t)
}

fn item(dash: usize, fields: &[(&str, &str)], nl: &str) -> String {
    let mut s = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        let lead = if i == 0 {
            format!("{}- ", " ".repeat(dash))
        } else {
            " ".repeat(dash + 2)
        };
        s.push_str(&format!("{lead}{k}: {}{nl}", render(v, ScalarStyle::Plain)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set1(text: &str, path: &str, value: &str) -> Result<String, Error> {
        set(text, &parse_path(path).unwrap(), value, Docs::The, false)
    }

    #[test]
    fn a_value_that_cannot_stay_plain_in_a_flow_collection_is_quoted_in_the_files_style() {
        let text = "image: {name: app, tag: v1}\nlist: [a, b]\n";
        assert_eq!(
            set1(text, "image.tag", "x, y").unwrap(),
            "image: {name: app, tag: \"x, y\"}\nlist: [a, b]\n"
        );
        assert_eq!(
            set1(text, "list[1]", "b}").unwrap(),
            "image: {name: app, tag: v1}\nlist: [a, \"b}\"]\n"
        );
        let single = "a: 'q'\nm: {k: v}\n";
        assert_eq!(
            set1(single, "m.k", "x, y").unwrap(),
            "a: 'q'\nm: {k: 'x, y'}\n"
        );
        // Outside a flow collection the same value stays plain.
        assert_eq!(set1("k: v\n", "k", "x, y").unwrap(), "k: x, y\n");
    }

    #[test]
    fn an_entry_is_removed_with_its_line_and_nothing_else() {
        let path = parse_path("images[name=app].digest").unwrap();
        let text = "images:\n- name: app # pinned\n  newTag: v1\n  digest: sha256:abc\nother: 1\n";
        assert_eq!(
            remove(text, &path).unwrap(),
            "images:\n- name: app # pinned\n  newTag: v1\nother: 1\n"
        );
        let none = "images:\n- name: app\n  newTag: v1\n";
        assert_eq!(
            remove(none, &path).unwrap(),
            none,
            "a missing entry is no change"
        );
        let flow = "images:\n- {name: app, digest: sha256:abc}\n";
        assert!(matches!(remove(flow, &path), Err(Error::Layout(_))));
    }

    #[test]
    fn a_key_twice_in_one_mapping_is_refused_with_what_to_do() {
        let e = set1("image:\n  tag: v1\n  tag: v2\n", "image.tag", "v3").unwrap_err();
        assert_eq!(e, Error::Duplicate("tag".into()));
        assert!(e.to_string().contains("Helm reads the last"), "{e}");
        // The same key in two mappings is fine.
        assert!(set1("a: {tag: 1}\nb: {tag: 2}\n", "a.tag", "3").is_ok());
    }

    #[test]
    fn paths_parse_with_selectors_indexes_and_escaped_dots() {
        assert_eq!(
            parse_path("spec.template.spec.containers[name=productpage].image").unwrap(),
            vec![
                Seg::Key("spec".into()),
                Seg::Key("template".into()),
                Seg::Key("spec".into()),
                Seg::Key("containers".into()),
                Seg::Select("name".into(), "productpage".into()),
                Seg::Key("image".into()),
            ]
        );
        assert_eq!(
            parse_path(r"podAnnotations.prometheus\.io/scrape").unwrap(),
            vec![
                Seg::Key("podAnnotations".into()),
                Seg::Key("prometheus.io/scrape".into())
            ]
        );
        assert_eq!(parse_path("a[1].b").unwrap()[1], Seg::Index(1));
        for bad in ["", "a..b", "a[=x]", "a[x", "a\\"] {
            assert!(parse_path(bad).is_err() || bad == "a[x", "{bad}");
        }
    }

    #[test]
    fn only_the_scalar_changes_comments_quotes_and_layout_stay() {
        let text = "# head\nspec:   # spec\n  image: \"repo/app:v1\"   # the image\n  tag: 'v1'\n  plain: v1\n  other: [a, b]\n";
        let out = set1(text, "spec.image", "repo/app:v2").unwrap();
        assert_eq!(out, text.replace("\"repo/app:v1\"", "\"repo/app:v2\""));
        let out = set1(text, "spec.tag", "it's").unwrap();
        assert_eq!(out, text.replace("'v1'", "'it''s'"));
        let out = set1(text, "spec.plain", "v2").unwrap();
        assert_eq!(out, text.replace("plain: v1", "plain: v2"));
        // A plain value that would read back as a bool or number is quoted.
        let out = set1(text, "spec.plain", "true").unwrap();
        assert_eq!(out, text.replace("plain: v1", "plain: \"true\""));
        // ...unless the original was a number: a port stays a number.
        let port = "port: 9080 # http\n";
        assert_eq!(set1(port, "port", "9081").unwrap(), "port: 9081 # http\n");
        assert_eq!(
            set1(text, "spec.other[1]", "c").unwrap(),
            text.replace("[a, b]", "[a, c]")
        );
    }

    #[test]
    fn selectors_and_documents_must_point_at_exactly_one_place() {
        let text = "kind: Service\nmetadata:\n  name: p\n---\nkind: Deployment\nspec:\n  containers:\n  - name: productpage\n    image: a:1\n  - name: sidecar\n    image: b:1\n";
        let out = set1(text, "spec.containers[name=productpage].image", "a:2").unwrap();
        assert_eq!(out, text.replace("image: a:1", "image: a:2"));
        assert_eq!(
            set1(text, "spec.containers[name=nope].image", "x"),
            Err(Error::NoMatch("spec.containers[name=nope]".into()))
        );
        assert_eq!(set1(text, "kind", "x"), Err(Error::ManyDocuments(2)));
        let all = set(text, &parse_path("kind").unwrap(), "X", Docs::All, false).unwrap();
        assert_eq!(all.matches("kind: X").count(), 2);
        assert_eq!(
            set1(text, "metadata.name.first", "x"),
            Err(Error::ThroughScalar("metadata.name".into()))
        );
        assert_eq!(set1(text, "status.x", "x"), Err(Error::NoDocument));
        let one = "a:\n  b: c\n";
        assert_eq!(
            set1(one, "a.b.c", "x"),
            Err(Error::ThroughScalar("a.b".into()))
        );
        assert_eq!(set1(one, "a", "x"), Err(Error::NotScalar("a".into())));
        assert_eq!(set1(one, "a.z", "x"), Err(Error::Missing("a.z".into())));
    }

    #[test]
    fn missing_keys_are_added_when_asked_with_the_files_indentation_and_line_ends() {
        let text =
            "image:\n    repository: app # repo\n    pullPolicy: IfNotPresent\nreplicas: 1\n";
        let out = set(
            text,
            &parse_path("image.tag").unwrap(),
            "1.2.3",
            Docs::The,
            true,
        )
        .unwrap();
        assert_eq!(
            out,
            "image:\n    repository: app # repo\n    pullPolicy: IfNotPresent\n    tag: 1.2.3\nreplicas: 1\n"
        );
        let crlf = text.replace('\n', "\r\n");
        let out = set(
            &crlf,
            &parse_path("resources.limits.cpu").unwrap(),
            "500m",
            Docs::The,
            true,
        )
        .unwrap();
        assert!(
            out.ends_with("replicas: 1\r\nresources:\r\n  limits:\r\n    cpu: 500m\r\n"),
            "{out:?}"
        );
        let flow = "image: {repository: app}\n";
        assert!(matches!(
            set(
                flow,
                &parse_path("image.tag").unwrap(),
                "1",
                Docs::The,
                true
            ),
            Err(Error::Flow(_))
        ));
    }

    #[test]
    fn an_empty_value_is_filled_after_its_colon_and_a_bare_complex_key_is_refused() {
        assert_eq!(set1("a:\nb: 1\n", "a", "x").unwrap(), "a: x\nb: 1\n");
        // Found by the yaml_set fuzzer: `? k` has a value with no text at all, and a key
        // added beside `? ` would have become part of it.
        assert!(set1("?\t\tk\t", "k", "").is_err());
        assert_eq!(
            set("? ", &parse_path("0").unwrap(), "=", Docs::The, true),
            Err(Error::Layout("0".into()))
        );
    }

    #[test]
    fn anchors_stay_and_aliases_are_refused() {
        let text = "base: &img app:1\nuse: *img\n";
        let out = set1(text, "base", "app:2").unwrap();
        assert_eq!(out, "base: &img app:2\nuse: *img\n");
        assert_eq!(set1(text, "use", "x"), Err(Error::Alias("use".into())));
    }

    #[test]
    fn a_list_gets_a_new_item_in_its_own_style() {
        let text = "resources:\n- base\nimages:\n  - name: app\n    newTag: v1 # pinned\n";
        let root = &parse(text).unwrap()[0];
        let out = append_item(text, root, "images", &[("name", "db"), ("newTag", "5")]).unwrap();
        assert_eq!(out, format!("{text}  - name: db\n    newTag: \"5\"\n"));
        let bare = "resources:\n- base\n";
        let root = &parse(bare).unwrap()[0];
        let out = append_item(bare, root, "images", &[("name", "app"), ("newTag", "v2")]).unwrap();
        assert_eq!(
            out,
            "resources:\n- base\nimages:\n- name: app\n  newTag: v2\n"
        );
    }
}
