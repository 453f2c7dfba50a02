//! Reading manifests from files or standard input: every YAML document with the file and line
//! it starts at.
//!
//! Local mode and `validate` report problems as `file:line`, so each document keeps its origin,
//! and `field_line` finds the line of a field inside a block-style document. The path `-`
//! reads standard input (`kustomize build | accountops validate -f -`); its documents are
//! named [`STDIN`].

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One YAML document of a manifest file.
#[derive(Clone, Debug)]
pub struct Document {
    pub file: PathBuf,
    /// 1-based line of the document's first content line.
    pub line: usize,
    /// The document's own text, for locating fields.
    pub text: String,
    /// The parsed document, or the YAML error.
    pub value: Result<Value, String>,
}

/// A file or directory that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The YAML files under `path` (the file itself, or `*.yaml`/`*.yml` below a directory,
/// recursively, in a stable order).
pub fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let meta = std::fs::metadata(path).map_err(|source| ReadError { path: path.to_owned(), source })?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let entries = std::fs::read_dir(path).map_err(|source| ReadError { path: path.to_owned(), source })?;
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        if child.is_dir() {
            out.extend(manifest_files(&child)?);
        } else if matches!(child.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(child);
        }
    }
    Ok(out)
}

/// The path that stands for standard input.
pub const STDIN_PATH: &str = "-";
/// The file name problems in standard input's documents are reported under.
pub const STDIN: &str = "<stdin>";

/// Reads every document of every manifest file under the given paths (`-`: standard input,
/// at most once).
pub fn read_documents(paths: &[PathBuf]) -> Result<Vec<Document>, ReadError> {
    read_documents_from(paths, std::io::stdin().lock())
}

/// [`read_documents`] with standard input given.
pub fn read_documents_from(paths: &[PathBuf], mut stdin: impl std::io::Read) -> Result<Vec<Document>, ReadError> {
    let mut docs = Vec::new();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == STDIN_PATH {
            let at_stdin = |source| ReadError { path: PathBuf::from(STDIN), source };
            if std::mem::replace(&mut stdin_read, true) {
                let twice = std::io::Error::new(std::io::ErrorKind::InvalidInput, "`-f -` can be given only once");
                return Err(at_stdin(twice));
            }
            let mut text = String::new();
            stdin.read_to_string(&mut text).map_err(at_stdin)?;
            docs.extend(split_documents(Path::new(STDIN), &text));
            continue;
        }
        for file in manifest_files(path)? {
            let text = std::fs::read_to_string(&file).map_err(|source| ReadError { path: file.clone(), source })?;
            docs.extend(split_documents(&file, &text));
        }
    }
    Ok(docs)
}

/// Splits a multi-document YAML text at `---` lines; empty documents are dropped.
pub fn split_documents(file: &Path, text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut start = 1;
    let mut current = String::new();
    let flush = |current: &mut String, start: usize, docs: &mut Vec<Document>| {
        let has_content = current.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if has_content {
            let first = current
                .lines()
                .position(|l| {
                    let t = l.trim();
                    !t.is_empty() && !t.starts_with('#')
                })
                .unwrap_or(0);
            let value = serde_yaml::from_str::<Value>(current).map_err(|e| yaml_error(&e, start));
            docs.push(Document { file: file.to_owned(), line: start + first, text: current.clone(), value });
        }
        current.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") || line == "..." {
            flush(&mut current, start, &mut docs);
            start = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&mut current, start, &mut docs);
    docs
}

fn yaml_error(e: &serde_yaml::Error, doc_start: usize) -> String {
    match e.location() {
        Some(loc) => format!("invalid YAML at line {}: {e}", doc_start + loc.line() - 1),
        None => format!("invalid YAML: {e}"),
    }
}

/// The 1-based line (within the file) of the field at `path` (e.g. `spec.billingAddress.country`
/// or `spec.roles[1].name`), found by following the keys down the block-style document.
/// Falls back to the deepest key found, then to the document's first line.
pub fn field_line(doc: &Document, path: &str) -> usize {
    let lines: Vec<&str> = doc.text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (key, index) = match segment.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some(pos) = lines[from..].iter().position(|l| is_key_line(l, key)) else { break };
        from += pos;
        found = Some(from);
        if let Some(index) = index {
            // Step to the index-th list item below the key.
            let indent_of = |l: &str| l.len() - l.trim_start().len();
            let mut seen = 0;
            let mut hit = None;
            for (offset, l) in lines[from + 1..].iter().enumerate() {
                let t = l.trim_start();
                if t.starts_with("- ") || t == "-" {
                    if seen == index {
                        hit = Some(from + 1 + offset);
                        break;
                    }
                    seen += 1;
                } else if !t.is_empty() && !t.starts_with('#') && indent_of(l) <= indent_of(lines[from]) {
                    break;
                }
            }
            match hit {
                Some(h) => {
                    from = h;
                    found = Some(h);
                }
                None => break,
            }
        }
    }
    found.map(|i| doc.line + i - first_content(&lines)).unwrap_or(doc.line)
}

fn first_content(lines: &[&str]) -> usize {
    lines
        .iter()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .unwrap_or(0)
}

fn is_key_line(line: &str, key: &str) -> bool {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let t = t.strip_prefix('"').map(|r| r.replacen('"', "", 1)).unwrap_or_else(|| t.to_owned());
    t.strip_prefix(key).is_some_and(|rest| rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "# leading comment\napiVersion: v1\nkind: A\n---\n\n---\napiVersion: v1\nkind: B\nspec:\n  roles:\n  - name: Admin\n  - name: Viewer\n    permissions: [x]\n  city: Kraków\n";

    #[test]
    fn splits_documents_and_keeps_start_lines() {
        let docs = split_documents(Path::new("f.yaml"), TWO);
        assert_eq!(docs.len(), 2, "the empty document is dropped");
        assert_eq!(docs[0].line, 2);
        assert_eq!(docs[1].line, 7);
        assert_eq!(docs[1].value.as_ref().expect("parses")["kind"], "B");
    }

    #[test]
    fn finds_field_lines_including_list_items() {
        let docs = split_documents(Path::new("f.yaml"), TWO);
        let b = &docs[1];
        assert_eq!(field_line(b, "kind"), 8);
        assert_eq!(field_line(b, "spec.roles"), 10);
        assert_eq!(field_line(b, "spec.roles[1]"), 12);
        assert_eq!(field_line(b, "spec.roles[1].permissions"), 13);
        assert_eq!(field_line(b, "spec.city"), 14);
        assert_eq!(field_line(b, "spec.missing"), 9, "falls back to the deepest key found");
        assert_eq!(field_line(b, "nothing"), 7, "falls back to the document");
    }

    #[test]
    fn dash_reads_standard_input_once_named_stdin() {
        let input = "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n";
        let docs = read_documents_from(&[PathBuf::from("-")], input.as_bytes()).expect("reads");
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[1].file.as_path(), docs[1].line), (Path::new("<stdin>"), 4));
        let twice = read_documents_from(&[PathBuf::from("-"), PathBuf::from("-")], input.as_bytes());
        let err = twice.expect_err("stdin has one stream").to_string();
        assert_eq!(err, "<stdin>: `-f -` can be given only once");
        let binary = read_documents_from(&[PathBuf::from("-")], &[0xff, 0xfe][..]).expect_err("not UTF-8");
        assert!(binary.to_string().starts_with("<stdin>: "), "{binary}");
    }

    #[test]
    fn yaml_errors_name_the_file_line() {
        let docs = split_documents(Path::new("f.yaml"), "a: 1\n---\nkind: [unclosed\n");
        let err = docs[1].value.as_ref().expect_err("broken YAML");
        assert!(err.contains("line 3") || err.contains("line 4"), "{err}");
    }
}
