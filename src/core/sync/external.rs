//! The sync's external step: the SCIM call its plan asks for, made between the plan and the
//! writes with no database connection held (as Crossplane's ExternalClient). Whatever the
//! system answered, a refusal or an outage included, is an [`Answer`] the writes record; the
//! SCIM error's own type says whether it passes without anyone acting
//! ([`ScimError::is_transient`]).

use super::DesiredSync;
use super::plan::{Push, PushInput};
use super::push::{self, Pushed};
use super::pushed::PushRecord;
use crate::scim::{Guards, ScimClient, ScimConfig, ScimError};

/// What the external system answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Nothing was asked.
    None,
    /// The push: the record of what it wrote (even a push that failed half-way wrote
    /// something), and how it ended.
    Pushed { record: PushRecord, result: Result<Pushed, ScimError> },
    /// Observe-only: what a push would write.
    Observed(Result<Pushed, ScimError>),
    /// Deletion: how many users were deprovisioned.
    Deprovisioned(Result<usize, ScimError>),
}

/// Make the call `push` asks for.
pub async fn call(desired: &DesiredSync, guards: &Guards, push: &Push) -> Answer {
    let options = &desired.spec.options;
    match push {
        Push::None => Answer::None,
        Push::Write(input) => {
            let mut record = input.before.clone().unwrap_or_default();
            let result = match client(desired, guards) {
                Ok(scim) => run(&scim, input, desired, &mut record, push::Mode::Write).await,
                Err(e) => Err(e),
            };
            Answer::Pushed { record, result }
        }
        Push::Observe(input) => {
            let mut record = input.before.clone().unwrap_or_default();
            Answer::Observed(match client(desired, guards) {
                Ok(scim) => run(&scim, input, desired, &mut record, push::Mode::Observe).await,
                Err(e) => Err(e),
            })
        }
        Push::Deprovision(input) => Answer::Deprovisioned(match client(desired, guards) {
            Ok(scim) => {
                let (dir, how) = (&input.dir, options.deprovision);
                push::deprovision_all(&scim, input.before.as_ref(), dir.account_id(), dir, how, &input.held_elsewhere)
                    .await
            }
            Err(e) => Err(e),
        }),
    }
}

async fn run(
    scim: &ScimClient,
    input: &PushInput,
    desired: &DesiredSync,
    record: &mut PushRecord,
    mode: push::Mode,
) -> Result<Pushed, ScimError> {
    let options = &desired.spec.options;
    push::push(scim, &input.dir, options, record, input.legacy, &input.held_elsewhere, mode).await
}

/// The SCIM client for the sync's endpoint, sharing the endpoint's guard.
fn client(desired: &DesiredSync, guards: &Guards) -> Result<ScimClient, ScimError> {
    let endpoint = &desired.spec.endpoint;
    let mut config = ScimConfig::new(&endpoint.url, desired.credentials.clone());
    config.insecure_skip_tls_verify = endpoint.insecure_skip_tls_verify;
    config.ca_pem = desired.ca_pem.clone();
    ScimClient::new(&config, guards.for_endpoint(&endpoint.url))
}
