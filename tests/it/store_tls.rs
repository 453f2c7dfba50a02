//! The store over TLS to a real PostgreSQL (`tests/tools/postgres-tls.sh`: a cluster with
//! `ssl = on` and a certificate for `localhost` from a test CA, and one without TLS):
//! verify-full connects and the session is encrypted; a wrong CA, a host name the certificate
//! does not name, and `require` against a server without TLS each fail with a clear error that
//! shows no password. Without the variables the tests skip; with `CI=true` they fail.

use accountops::store::{Store, StoreError};

struct TlsEnv {
    /// `postgres://accountops:accountops@localhost:PORT/postgres`, TLS on.
    tls_url: String,
    ca: String,
    wrong_ca: String,
    /// The same, to the cluster without TLS.
    plain_url: String,
}

fn tls_env() -> Option<TlsEnv> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let found = (|| {
        Some(TlsEnv {
            tls_url: var("ACCOUNTOPS_TEST_PG_TLS_URL")?,
            ca: var("ACCOUNTOPS_TEST_PG_TLS_CA")?,
            wrong_ca: var("ACCOUNTOPS_TEST_PG_WRONG_CA")?,
            plain_url: var("ACCOUNTOPS_TEST_PG_PLAIN_URL")?,
        })
    })();
    if found.is_none() {
        let how = "ACCOUNTOPS_TEST_PG_TLS_* are not set: eval \"$(tests/tools/postgres-tls.sh)\"";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{how}");
        eprintln!("skipping: {how}");
    }
    found
}

fn with(url: &str, query: &str) -> String {
    format!("{url}?{query}")
}

/// Connects, or the error with its causes on one line.
async fn connect(url: &str) -> Result<Store, String> {
    Store::connect(url).await.map_err(|e: StoreError| {
        let text = e.chain();
        assert!(!text.contains(":accountops@"), "the password is redacted: {text}");
        text
    })
}

async fn encrypted(store: &Store) -> bool {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .expect("pg_stat_ssl")
}

#[tokio::test]
async fn verify_full_connects_encrypted_and_every_wrong_setup_fails_clearly() {
    let Some(env) = tls_env() else { return };
    let full = |url: &str, ca: &str| with(url, &format!("sslmode=verify-full&sslrootcert={ca}"));

    let store = connect(&full(&env.tls_url, &env.ca)).await.expect("verify-full with the right CA");
    assert!(encrypted(&store).await, "the session is TLS");
    store.close().await;

    let err = connect(&full(&env.tls_url, &env.wrong_ca)).await.expect_err("a CA that signed nothing there");
    assert!(err.contains("invalid peer certificate: UnknownIssuer"), "{err}");
    assert!(err.starts_with("cannot connect to database postgres://accountops:***@localhost:"), "{err}");

    // The certificate names localhost only: verify-full to 127.0.0.1 fails, verify-ca does not.
    let by_ip = env.tls_url.replace("@localhost:", "@127.0.0.1:");
    let err = connect(&full(&by_ip, &env.ca)).await.expect_err("a host the certificate does not name");
    assert!(err.contains("certificate not valid for name \"127.0.0.1\""), "{err}");
    let store = connect(&with(&by_ip, &format!("sslmode=verify-ca&sslrootcert={}", env.ca))).await.expect("verify-ca");
    assert!(encrypted(&store).await);
    store.close().await;

    let err = connect(&with(&env.plain_url, "sslmode=require")).await.expect_err("require without TLS");
    assert!(err.contains("server does not support TLS"), "{err}");
    let err = connect(&full(&env.plain_url, &env.ca)).await.expect_err("verify-full without TLS");
    assert!(err.contains("server does not support TLS"), "{err}");

    // require encrypts without verifying; prefer (the default) upgrades when TLS is offered.
    for query in ["sslmode=require", "sslmode=prefer"] {
        let store = connect(&with(&env.tls_url, query)).await.expect(query);
        assert!(encrypted(&store).await, "{query}: encrypted");
        store.close().await;
    }
    let store = connect(&env.plain_url).await.expect("prefer falls back where the server has no TLS");
    assert!(!encrypted(&store).await);
    store.close().await;
}

#[test]
fn the_cli_names_a_tls_failure_and_a_missing_ca_file_in_one_line() {
    let Some(env) = tls_env() else { return };
    let run = |url: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_accountops"))
            .args(["migrate", "--database", url])
            .env_remove("PGSSLMODE")
            .env_remove("PGSSLROOTCERT")
            .output()
            .expect("the binary runs");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!err.contains(":accountops@"), "{err}");
        err
    };
    let err = run(&with(&env.tls_url, &format!("sslmode=verify-full&sslrootcert={}", env.wrong_ca)));
    assert!(err.contains("invalid peer certificate: UnknownIssuer"), "{err}");
    let err = run(&with(&env.tls_url, "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt"));
    assert!(err.contains("sslrootcert /nonexistent/ca.crt: cannot read it: No such file or directory"), "{err}");
    // PGSSLMODE from the environment counts as sqlx reads it: require to the server without TLS.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accountops"))
        .args(["migrate", "--database", &env.plain_url])
        .env("PGSSLMODE", "require")
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("server does not support TLS"), "{err}");
}
