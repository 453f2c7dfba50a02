//! Local mode refuses the manifests the operator refuses (see `scim_policy_e2e`): a sync whose
//! credentials Secret did not opt in (Opaque, a service account token) and a sync aimed at a
//! metadata address or at plain http elsewhere. Each refusal is named on the sync, `apply`
//! exits 1, and nothing reaches the SCIM server the refused credentials would have gone to.

use serde_json::Value;

use crate::local::workspace::{Workspace, text};
use crate::support::hostile::HostileServer;

const ATTACK: &str = r#"apiVersion: v1
kind: Secret
metadata:
  name: app-database
type: Opaque
stringData:
  token: the-apps-password
---
apiVersion: v1
kind: Secret
metadata:
  name: deployer-token
  annotations: {kubernetes.io/service-account.name: deployer}
type: kubernetes.io/service-account-token
stringData:
  token: eyJhbGciOiJSUzI1NiJ9.the-deployers-token
---
apiVersion: v1
kind: Secret
metadata:
  name: opted-in
type: accountops.dev/scim-credentials
stringData:
  token: a-token-meant-for-scim
"#;

fn sync(name: &str, url: &str, secret: &str) -> String {
    format!(
        "---\napiVersion: accountops.dev/v1alpha1\nkind: ProvisioningSync\nmetadata:\n  name: {name}\nspec:\n  \
         accountRef: {{name: acme-polska}}\n  endpoint:\n    url: {url}\n    credentialsSecretRef: {{name: {secret}}}\n  \
         portalUrl: https://portal.example.com/start\n"
    )
}

fn object<'a>(report: &'a Value, name: &str) -> &'a Value {
    let objects = report["objects"].as_array().expect("objects");
    objects.iter().find(|o| o["kind"] == "ProvisioningSync" && o["name"] == name).expect("the sync is reported")
}

#[tokio::test]
async fn local_mode_refuses_unopted_credentials_and_disallowed_endpoints() {
    let server = HostileServer::start().await;
    let ws = Workspace::with_examples();
    let mut manifests = ATTACK.to_owned();
    manifests.push_str(&sync("steal-app-password", &server.url("opaque"), "app-database"));
    manifests.push_str(&sync("steal-deployer-token", &server.url("sa-token"), "deployer-token"));
    manifests.push_str(&sync("metadata", "http://169.254.169.254/latest/scim/v2", "opted-in"));
    manifests.push_str(&sync("plain-http", "http://203.0.113.10/scim/v2", "opted-in"));
    ws.write("50-attack.yaml", &manifests);

    let (ok, report) = ws.json("apply", &[]);
    assert!(!ok, "refusals fail apply: {report:#}");
    for (name, reason, says) in [
        ("steal-app-password", "CredentialsNotOptedIn", "Secret app-database in default has type Opaque"),
        (
            "steal-deployer-token",
            "CredentialsNotOptedIn",
            "Secret deployer-token in default is a service account token",
        ),
        ("metadata", "EndpointNotAllowed", "169.254.169.254 is link-local"),
        ("plain-http", "EndpointNotAllowed", "http:// to 203.0.113.10, which is not loopback"),
    ] {
        let o = object(&report, name);
        assert_eq!((o["reason"].as_str(), o["ready"].as_bool()), (Some(reason), Some(false)), "{name}: {o:#}");
        let message = o["message"].as_str().expect("a message");
        assert!(message.contains(says), "{name}: {message}");
    }
    assert_eq!(object(&report, "steal-app-password")["action"], "Conflict");
    assert!(
        object(&report, "steal-app-password")["message"].as_str().is_some_and(|m| m.contains("credentialsSecretRef")),
        "the field is named"
    );
    assert!(server.requests().is_empty(), "the refused credentials went nowhere: {:?}", server.requests());
    let printed = format!("{report}");
    for secret in ["the-apps-password", "the-deployers-token", "a-token-meant-for-scim"] {
        assert!(!printed.contains(secret), "{secret} printed");
    }
    // The table says the same, and plan refuses the Secrets without contacting anything either.
    let out = ws.run("plan", &[]);
    let shown = text(&out.stdout);
    assert!(shown.contains("CredentialsNotOptedIn"), "{shown}");
    assert!(server.requests().is_empty());
}
