//! Loading a document's text with saphyr: duplicate keys are renamed away so the rest can still
//! be checked, and text nested too deeply for saphyr's recursive loader is refused up front.

use saphyr::{LoadableYamlNode, MarkedYamlOwned as Node, Marker};

use super::IssueKind;

/// The error text of saphyr's loader for a duplicate mapping key.
const DUPLICATE_KEY_ERROR: &str = "duplicated key in mapping";
const MAX_RENAMED_DUPLICATES: usize = 64;
/// Keeps saphyr's recursion under about 2 × 120 block levels plus its 255 flow levels.
const MAX_CONTENT_COLUMN: usize = 120;

pub(super) struct Parsed {
    pub(super) documents: Vec<Node>,
    /// Position and text of every duplicate key, each renamed away in `source`.
    pub(super) duplicates: Vec<(Marker, String)>,
    /// The text as loaded, by character, to look at how scalars are quoted.
    pub(super) source: Vec<char>,
}

/// Why a text could not be loaded: where, and as which kind of issue.
pub(super) type ParseError = (Marker, IssueKind, String);

/// Loads the text, renaming duplicate keys away so the rest can still be checked.
pub(super) fn parse(text: &str) -> Result<Parsed, ParseError> {
    refuse_deep_nesting(text)?;
    let mut source: Vec<char> = text.chars().collect();
    let mut duplicates = Vec::new();
    loop {
        let error = match Node::load_from_str(&source.iter().collect::<String>()) {
            Ok(documents) => {
                return Ok(Parsed {
                    documents,
                    duplicates,
                    source,
                });
            }
            Err(error) => error,
        };
        let marker = *error.marker();
        if error.info() != DUPLICATE_KEY_ERROR {
            return Err((marker, IssueKind::Syntax, error.info().to_owned()));
        }
        let key = key_text_at(&source, marker.index());
        let ordinal = duplicates.len();
        if ordinal >= MAX_RENAMED_DUPLICATES || !rename_key(&mut source, marker, ordinal) {
            return Err((
                marker,
                IssueKind::InvalidValue,
                format!("duplicate key `{key}`"),
            ));
        }
        duplicates.push((marker, key));
    }
}

/// Refuses a document nested deeper than saphyr's recursive loader can take safely.
fn refuse_deep_nesting(text: &str) -> Result<(), ParseError> {
    for (index, line) in text.lines().enumerate() {
        let column = content_column(line);
        if column > MAX_CONTENT_COLUMN {
            let message =
                format!("nested too deeply to check (beyond column {MAX_CONTENT_COLUMN})");
            return Err((
                Marker::new(0, index + 1, column),
                IssueKind::Syntax,
                message,
            ));
        }
    }
    Ok(())
}

/// The column where a line's content starts, after indentation and compact indicators.
fn content_column(line: &str) -> usize {
    let chars: Vec<char> = line.chars().collect();
    let is_indicator = |at: usize| {
        matches!(chars.get(at), Some('-' | '?' | ':'))
            && chars.get(at + 1).is_none_or(|next| *next == ' ')
    };
    let column = (0..chars.len()).find(|&at| chars[at] != ' ' && !is_indicator(at));
    // A line of nothing but indicators (`- - - -`) nests all the way to its end.
    column.unwrap_or(if line.trim().is_empty() {
        0
    } else {
        chars.len()
    })
}

/// Makes the key at `marker` unique by swapping its first character for a private-use one.
fn rename_key(source: &mut [char], marker: Marker, ordinal: usize) -> bool {
    let index = marker.index();
    let at = index + usize::from(matches!(source.get(index), Some('"' | '\'')));
    let replacement = u32::try_from(ordinal)
        .ok()
        .and_then(|o| char::from_u32(0xE000 + o));
    match (source.get_mut(at), replacement) {
        (Some(slot), Some(replacement)) if !"&*!?|>%@`'\"[]{},#\\ \t".contains(*slot) => {
            *slot = replacement;
            true
        }
        _ => false,
    }
}

/// The text of the key written at `index`, quoted or plain.
fn key_text_at(source: &[char], index: usize) -> String {
    let rest = source.get(index..).unwrap_or_default();
    let text: String = match rest.first() {
        Some(&quote @ ('"' | '\'')) => rest.iter().skip(1).take_while(|c| **c != quote).collect(),
        _ => rest
            .iter()
            .take_while(|c| !":,}]\r\n".contains(**c))
            .collect(),
    };
    text.trim_end().to_owned()
}
