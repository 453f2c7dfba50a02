//! Identities other than the admin, so a test can run the operator (or kubectl) with exactly the
//! RBAC a Helm chart grants and see a missing permission fail as it would in a cluster.

use anyhow::{Context, Result};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, ObjectMeta, PostParams};

use super::kubeconfig::{self, Auth, Credential};
use super::plane::{ControlPlane, unique_name};

/// Requested token lifetime: longer than any test run (the API server sets no maximum here).
const TOKEN_SECONDS: i64 = 24 * 3600;

impl ControlPlane {
    /// A client certificate for user `user` (optionally in `group`), and a kubeconfig for it.
    /// The user has no permissions until a test binds some.
    pub fn user(&self, user: &str, group: Option<&str>) -> Credential {
        self.try_user(user, group).unwrap_or_else(|e| panic!("credential for user {user}: {e:#}"))
    }

    fn try_user(&self, user: &str, group: Option<&str>) -> Result<Credential> {
        let stem = unique_name(self, &format!("user-{user}"), 60);
        let cert = self.pki.client_cert(&stem, user, group)?;
        let credential =
            Credential { user: user.into(), kubeconfig: self.creds_dir()?.join(format!("{stem}.kubeconfig")) };
        kubeconfig::write(&credential.kubeconfig, &self.server, &self.pki.ca_cert, user, Auth::Cert(&cert))?;
        Ok(credential)
    }

    /// A kubeconfig with a token of ServiceAccount `namespace/name` (created if missing), from
    /// the TokenRequest API as a kubelet would mount it. This is the identity a chart's
    /// Deployment runs as: its RBAC applies, nothing else.
    pub async fn service_account(&self, namespace: &str, name: &str) -> Credential {
        self.try_service_account(namespace, name)
            .await
            .unwrap_or_else(|e| panic!("credential for ServiceAccount {namespace}/{name}: {e:#}"))
    }

    async fn try_service_account(&self, namespace: &str, name: &str) -> Result<Credential> {
        let client = self.admin.client().await?;
        let api: Api<ServiceAccount> = Api::namespaced(client, namespace);
        if api.get_opt(name).await?.is_none() {
            let sa = ServiceAccount {
                metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
                ..Default::default()
            };
            api.create(&PostParams::default(), &sa).await.context("creating the ServiceAccount")?;
        }
        let request = TokenRequest {
            spec: TokenRequestSpec { expiration_seconds: Some(TOKEN_SECONDS), ..Default::default() },
            ..Default::default()
        };
        let token = api
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .context("TokenRequest")?
            .status
            .context("TokenRequest without status")?
            .token;
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let stem = unique_name(self, &format!("sa-{namespace}-{name}"), 60);
        let credential = Credential { user, kubeconfig: self.creds_dir()?.join(format!("{stem}.kubeconfig")) };
        kubeconfig::write(
            &credential.kubeconfig,
            &self.server,
            &self.pki.ca_cert,
            &credential.user,
            Auth::Token(&token),
        )?;
        Ok(credential)
    }

    fn creds_dir(&self) -> Result<std::path::PathBuf> {
        let dir = self.dir.join("creds");
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}
