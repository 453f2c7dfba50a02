//! The annotations that steer the engine, decoded once for both shells.
//!
//! The shells hand over `metadata.annotations` (or a manifest's) as plain string pairs;
//! [`Flags::from_annotations`] turns them into the flags [`plan`](super::account::plan)
//! reads. A misspelt value (`adopt: "yes"`) is an error rather than silently false, so a user
//! who asked for something learns that it was not understood.

use super::error::CoreError;

/// Re-adopt an archived or orphaned row last owned by an object of the same namespace/name.
pub const ADOPT_ANNOTATION: &str = "accountops.dev/adopt";
/// Import an existing platform row by its ID (`acct-…`, `org-…`) instead of creating one.
pub const EXTERNAL_ID_ANNOTATION: &str = "accountops.dev/external-id";
/// Report drift in status and Events without correcting it; nothing is written.
pub const OBSERVE_ONLY_ANNOTATION: &str = "accountops.dev/observe-only";
/// Skip reconciliation of this object (`Synced=False`, reason `ReconcilePaused`); never blocks deletion.
/// Read by the shells: a paused object is not planned at all.
pub const PAUSED_ANNOTATION: &str = "accountops.dev/paused";
/// During deletion, when the database cannot be reached, let the object go and leave its
/// row as it is (as if `deletionPolicy: Orphan`). Read by the operator shell.
pub const FORCE_ORPHAN_ANNOTATION: &str = "accountops.dev/force-orphan";

/// The engine's annotations, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// [`ADOPT_ANNOTATION`] is `"true"`.
    pub adopt: bool,
    /// [`EXTERNAL_ID_ANNOTATION`], trimmed; `None` when absent or empty.
    pub external_id: Option<String>,
    /// [`OBSERVE_ONLY_ANNOTATION`] is `"true"`.
    pub observe_only: bool,
    /// [`PAUSED_ANNOTATION`] is `"true"`.
    pub paused: bool,
    /// [`FORCE_ORPHAN_ANNOTATION`] is `"true"`.
    pub force_orphan: bool,
}

impl Flags {
    /// Decode the engine's annotations; other annotations are ignored.
    pub fn from_annotations<'a, I>(annotations: I) -> Result<Flags, CoreError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut flags = Flags::default();
        for (key, value) in annotations {
            match key {
                ADOPT_ANNOTATION => flags.adopt = boolean(key, value)?,
                OBSERVE_ONLY_ANNOTATION => flags.observe_only = boolean(key, value)?,
                PAUSED_ANNOTATION => flags.paused = boolean(key, value)?,
                FORCE_ORPHAN_ANNOTATION => flags.force_orphan = boolean(key, value)?,
                EXTERNAL_ID_ANNOTATION => {
                    let id = value.trim();
                    if id.chars().any(char::is_whitespace) {
                        return Err(CoreError::InvalidAnnotation {
                            name: key.to_owned(),
                            reason: format!("{value:?} is not a platform ID"),
                        });
                    }
                    flags.external_id = (!id.is_empty()).then(|| id.to_owned());
                }
                _ => {}
            }
        }
        Ok(flags)
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, CoreError> {
    match value.trim() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        other => Err(CoreError::InvalidAnnotation {
            name: name.to_owned(),
            reason: format!("must be \"true\" or \"false\", not {other:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_flag_and_ignores_others() {
        let flags = Flags::from_annotations([
            (ADOPT_ANNOTATION, "true"),
            (EXTERNAL_ID_ANNOTATION, " acct-1 "),
            (OBSERVE_ONLY_ANNOTATION, "true"),
            (PAUSED_ANNOTATION, "false"),
            (FORCE_ORPHAN_ANNOTATION, "true"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
        ])
        .expect("valid annotations");
        assert_eq!(
            flags,
            Flags {
                adopt: true,
                external_id: Some("acct-1".to_owned()),
                observe_only: true,
                paused: false,
                force_orphan: true,
            }
        );
        assert_eq!(Flags::from_annotations([]).expect("none"), Flags::default());
        assert_eq!(Flags::from_annotations([(EXTERNAL_ID_ANNOTATION, "  ")]).expect("blank").external_id, None);
    }

    #[test]
    fn a_misspelt_value_is_an_error_naming_the_annotation() {
        let err = Flags::from_annotations([(ADOPT_ANNOTATION, "yes")]).expect_err("yes is not a boolean");
        assert!(err.to_string().contains(ADOPT_ANNOTATION), "{err}");
        assert_eq!(err.category(), "invalid_annotation");
        assert!(!err.is_transient());
        assert!(Flags::from_annotations([(EXTERNAL_ID_ANNOTATION, "acct 1")]).is_err());
    }
}
