//! The control plane's own certificate authority, made fresh per run with rcgen.
//!
//! One CA signs everything: the API server's serving certificate (so clients verify it like a
//! real cluster's, no `insecure-skip-tls-verify`), and client certificates whose subject is the
//! Kubernetes identity (CN = user name, O = group; `--client-ca-file` trusts them). The
//! ServiceAccount token signing key is separate and needs no certificate.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate: `--client-ca-file` for the API server, `certificate-authority` for
    /// clients.
    pub ca_cert: PathBuf,
}

impl Pki {
    pub fn create(dir: &Path) -> Result<Pki> {
        std::fs::create_dir_all(dir)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, "accountops-test-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let ca_cert = dir.join("ca.crt");
        write(&ca_cert, &ca.pem())?;
        Ok(Pki { dir: dir.to_owned(), ca, ca_cert })
    }

    /// A TLS server certificate for `hosts` (IP addresses or DNS names).
    pub fn serving_cert(&self, stem: &str, hosts: &[&str]) -> Result<CertFiles> {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let mut params = CertificateParams::new(hosts)?;
        params.distinguished_name.push(DnType::CommonName, stem);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(stem, params)
    }

    /// A client certificate for Kubernetes user `user` in `group`. (rcgen keeps one value per
    /// subject attribute, hence at most one group; bind RBAC to the user for more.)
    pub fn client_cert(&self, stem: &str, user: &str, group: Option<&str>) -> Result<CertFiles> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, user);
        if let Some(group) = group {
            params.distinguished_name.push(DnType::OrganizationName, group);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(stem, params)
    }

    /// The ServiceAccount token signing key pair (ECDSA P-256): the public key (PKIX PEM) for
    /// `--service-account-key-file`, which accepts no PKCS#8 private keys, and the private key
    /// (PKCS#8 PEM) for `--service-account-signing-key-file`.
    pub fn service_account_key(&self) -> Result<(PathBuf, PathBuf)> {
        let key = KeyPair::generate()?;
        let (public, private) = (self.dir.join("sa.pub"), self.dir.join("sa.key"));
        write(&public, &key.public_key_pem())?;
        write(&private, &key.serialize_pem())?;
        Ok((public, private))
    }

    fn sign(&self, stem: &str, params: CertificateParams) -> Result<CertFiles> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca)?;
        let files = CertFiles { cert: self.dir.join(format!("{stem}.crt")), key: self.dir.join(format!("{stem}.key")) };
        write(&files.cert, &cert.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
    }
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
