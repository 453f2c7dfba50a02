//! Account: a legal entity's billing details; it groups organizations.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Conditions, DeletionPolicy};
use super::fields::{CountryCode, CurrencyCode, Email};

/// A billing account: the legal entity invoiced for the organizations it groups.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "accountops.dev",
    version = "v1alpha1",
    kind = "Account",
    namespaced,
    status = "AccountStatus",
    shortname = "acct",
    category = "accountops",
    doc = "A billing account of the platform: the legal entity invoiced for its organizations.",
    printcolumn(name = "ID", type_ = "string", json_path = ".status.accountId", description = "Platform account ID"),
    printcolumn(
        name = "Legal Name",
        type_ = "string",
        json_path = ".spec.legalName",
        description = "Legal name invoiced"
    ),
    printcolumn(
        name = "Country",
        type_ = "string",
        json_path = ".spec.billingAddress.country",
        description = "Billing country"
    ),
    printcolumn(
        name = "Orgs",
        type_ = "integer",
        json_path = ".status.organizationCount",
        description = "Live organizations"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Platform record present and current"
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status",
        description = "Last reconcile succeeded"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1,
        description = "Why Ready is what it is"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct AccountSpec {
    /// Registered legal name of the entity, exactly as it must appear on invoices.
    #[schemars(length(min = 1, max = 200))]
    pub legal_name: String,
    /// Postal address printed on invoices.
    pub billing_address: BillingAddress,
    /// Tax or VAT identification number, with its country prefix where one exists (e.g. PL5260250274).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9][A-Za-z0-9 ./-]*$')").message("may contain only letters, digits, spaces and . / -"))]
    #[schemars(length(min = 2, max = 32))]
    pub tax_id: Option<String>,
    /// Address invoices and billing notices are sent to.
    pub billing_email: Email,
    /// ISO 4217 code of the invoicing currency.
    pub currency: CurrencyCode,
    /// Language invoices are issued in, as a BCP 47 tag such as `en` or `pl`.
    #[serde(default = "default_invoice_language")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z]{2}(-[A-Z]{2})?$')").message("must be a language tag such as en, pl or en-GB"))]
    #[schemars(length(min = 2, max = 5))]
    pub invoice_language: String,
    /// What happens to the platform account when this object is deleted: `Delete` closes it
    /// (kept, marked closed with a timestamp), `Orphan` leaves it untouched and detached.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

fn default_invoice_language() -> String {
    "en".to_owned()
}

/// A postal address.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingAddress {
    /// Street, building and unit, one entry per printed line (1 to 3 lines).
    #[schemars(length(min = 1, max = 3), inner(length(min = 1, max = 200)))]
    pub street: Vec<String>,
    /// City or town.
    #[schemars(length(min = 1, max = 100))]
    pub city: String,
    /// Postal or ZIP code as written in the country.
    #[schemars(length(min = 1, max = 20))]
    pub postal_code: String,
    /// Region, state or province, where the country's addresses use one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: CountryCode,
}

/// Observed state of an Account.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    /// The metadata.generation this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Platform-generated account ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Number of live organizations under this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_count: Option<i32>,
    /// Platform IDs of the account's organizations (at most 50 are listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub organizations: Vec<String>,
    /// Ready (the platform record is there and current), Synced (the last reconcile succeeded).
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub conditions: Conditions,
}
