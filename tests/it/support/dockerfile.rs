//! What a Dockerfile (or Containerfile) says its image is: the stages' instructions, and of the
//! last stage the configuration an image carries (user, entrypoint, command, labels) and where
//! the one `COPY` (the binary) lands. Used to check that `tests/tools/image.sh` and
//! the image it builds describe what the Dockerfile describes.
//!
//! Only the subset of the syntax our Dockerfile uses is understood: `\` continuations, `#`
//! comment lines, JSON-form `ENTRYPOINT`/`CMD` and `LABEL key="value" ...`; anything else in a
//! field read here is a test failure naming the instruction.

use std::collections::BTreeMap;

/// One `FROM` and the instructions after it, each `(KEYWORD, rest)` with the keyword upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub from: String,
    pub instructions: Vec<(String, String)>,
}

/// The configuration an image built from a final stage has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub user: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// Where the stage's one `COPY` (of the binary) puts it.
    pub binary: Option<String>,
}

/// The stages of `text`, continuations joined and comment lines dropped.
pub fn stages(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                logical.push_str(head.trim_end());
                logical.push(' ');
                continue;
            }
            None => logical.push_str(trimmed),
        }
        let instruction = std::mem::take(&mut logical);
        let (keyword, rest) = instruction.split_once(char::is_whitespace).unwrap_or((&instruction, ""));
        let (keyword, rest) = (keyword.to_ascii_uppercase(), rest.trim().to_owned());
        match stages.last_mut() {
            _ if keyword == "FROM" => stages.push(Stage { from: rest, instructions: Vec::new() }),
            Some(stage) => stage.instructions.push((keyword, rest)),
            None => panic!("{keyword} before the first FROM"),
        }
    }
    stages
}

impl Stage {
    /// Every instruction `keyword`, in order.
    pub fn all<'a>(&'a self, keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.instructions.iter().filter(move |(k, _)| k == keyword).map(|(_, rest)| rest.as_str())
    }

    /// What an image built from this stage is configured as (the last USER/ENTRYPOINT/CMD wins,
    /// as in a build).
    pub fn spec(&self) -> ImageSpec {
        let exec_form = |keyword: &str| -> Vec<String> {
            self.all(keyword).last().map_or_else(Vec::new, |rest| {
                serde_json::from_str(rest).unwrap_or_else(|e| panic!("{keyword} {rest}: not the JSON form: {e}"))
            })
        };
        let copies: Vec<&str> = self.all("COPY").collect();
        assert!(copies.len() <= 1, "more than one COPY, which is the binary? {copies:?}");
        let binary = copies.first().map(|rest| {
            rest.split_whitespace().last().unwrap_or_else(|| panic!("COPY {rest}: no destination")).to_owned()
        });
        ImageSpec {
            user: self.all("USER").last().map(str::to_owned),
            entrypoint: exec_form("ENTRYPOINT"),
            cmd: exec_form("CMD"),
            labels: self.all("LABEL").flat_map(labels).collect(),
            binary,
        }
    }
}

/// The `key=value` pairs of one LABEL instruction; values bare or double-quoted (`\"` escapes).
pub fn labels(rest: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return pairs;
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|&c| c != '=' && !c.is_whitespace())).collect();
        assert_eq!(chars.next(), Some('='), "LABEL {rest}: `{key}` has no `=value`");
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => panic!("LABEL {rest}: unterminated quote in `{key}`"),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())));
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_STAGES: &str = r#"# syntax=docker/dockerfile:1
FROM rust:1 AS build
RUN cargo build \
    --release
# the runtime
from base:1
LABEL a="one \"two\"" \
      b=bare
COPY --from=build /out/bin /bin/app
USER 1:1
ENTRYPOINT ["/bin/app"]
CMD ["run", "--x"]
USER 2
"#;

    #[test]
    fn stages_join_continuations_and_drop_comments() {
        let stages = stages(TWO_STAGES);
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].from, "rust:1 AS build");
        assert_eq!(stages[0].instructions, [("RUN".to_owned(), "cargo build --release".to_owned())]);
        assert_eq!(stages[1].from, "base:1", "keywords are case-insensitive");
    }

    #[test]
    fn the_last_stage_gives_the_image_configuration() {
        let spec = stages(TWO_STAGES)[1].spec();
        assert_eq!(spec.user.as_deref(), Some("2"), "the last USER wins");
        assert_eq!(spec.entrypoint, ["/bin/app"]);
        assert_eq!(spec.cmd, ["run", "--x"]);
        assert_eq!(spec.binary.as_deref(), Some("/bin/app"));
        let expected: BTreeMap<String, String> =
            [("a".to_owned(), r#"one "two""#.to_owned()), ("b".to_owned(), "bare".to_owned())].into();
        assert_eq!(spec.labels, expected);
    }

    #[test]
    #[should_panic(expected = "not the JSON form")]
    fn a_shell_form_entrypoint_is_refused() {
        stages("FROM x\nENTRYPOINT /bin/app run\n")[0].spec();
    }

    #[test]
    #[should_panic(expected = "more than one COPY")]
    fn a_stage_copying_two_files_has_no_one_binary() {
        stages("FROM x\nCOPY --from=b /a /a\nCOPY --from=b /c /c\n")[0].spec();
    }

    #[test]
    #[should_panic(expected = "unterminated quote")]
    fn an_unterminated_label_is_refused() {
        labels(r#"a="open"#);
    }

    #[test]
    #[should_panic(expected = "has no `=value`")]
    fn a_label_without_a_value_is_refused() {
        labels("lonely");
    }
}
