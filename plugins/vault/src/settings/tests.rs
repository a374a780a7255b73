//! The settings: config keys, auth methods, the token, namespace and JWT
//! sources, and every refusal.

use super::*;
use crate::testing::path;
use reqflo_plugin_sdk::env::fake;
use reqflo_plugin_sdk::testing::{self, TempFile, accepted};

fn settings(pairs: &[(&str, &str)]) -> Settings {
    accepted(Settings::from_config(&Config::of(pairs)))
}

/// The message of the invalid-reference error `pairs` are refused with.
fn refused(pairs: &[(&str, &str)]) -> String {
    testing::refused(
        Settings::from_config(&Config::of(pairs)),
        "invalid-reference",
    )
}

#[test]
fn defaults() {
    let s = settings(&[]);
    assert_eq!(s.mount.to_string(), "secret");
    assert_eq!(s.kv_version, KvVersion::V2);
    assert_eq!(s.namespace, None);
    assert_eq!(
        s.auth,
        Auth::Token {
            env: "VAULT_TOKEN".into()
        }
    );
    let s = settings(&[("auth", "approle")]);
    match s.auth {
        Auth::AppRole {
            role_id_env,
            secret_id_env,
            mount,
        } => {
            assert_eq!(role_id_env, "VAULT_ROLE_ID");
            assert_eq!(secret_id_env, "VAULT_SECRET_ID");
            assert_eq!(mount.to_string(), "approle");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_key() {
    let s = settings(&[
        ("address", "https://vault.example.com:8200"),
        ("mount", "/kv/team-a/"),
        ("kv_version", "1"),
        ("namespace", "/admin/payments/"),
        ("auth", "approle"),
        ("role_id_env", "ROLE"),
        ("secret_id_env", "SECRET"),
        ("approle_mount", "approle-ci/"),
    ]);
    assert_eq!(s.mount.to_string(), "kv/team-a");
    assert_eq!(s.kv_version, KvVersion::V1);
    assert_eq!(s.namespace.as_deref(), Some("admin/payments"));
    assert!(matches!(
        s.auth,
        Auth::AppRole { ref role_id_env, ref mount, .. }
            if role_id_env == "ROLE" && mount.to_string() == "approle-ci"
    ));
    let s = settings(&[("token_env", "MY_TOKEN"), ("kv_version", "2")]);
    assert_eq!(
        s.auth,
        Auth::Token {
            env: "MY_TOKEN".into()
        }
    );
}

#[test]
fn bad_config_is_named() {
    assert_eq!(
        refused(&[("path", "x")]),
        format!("unknown config key `path` for the Vault provider (known: {KNOWN_KEYS})")
    );
    assert!(refused(&[("address", "vault:8200")]).contains("config.address"));
    assert!(refused(&[("address", "https://v/v1")]).contains("has a path"));
    assert!(refused(&[("kv_version", "3")]).contains("must be 1 or 2"));
    assert_eq!(
        refused(&[("auth", "ldap")]),
        "config.auth is \"ldap\"; it must be `token`, `approle`, `jwt` or `kubernetes`"
    );
    assert!(refused(&[("mount", "/")]).contains("config.mount"));
    assert!(refused(&[("mount", "a/../sys")]).contains("`..` segment"));
    assert!(refused(&[("namespace", "a b")]).contains("config.namespace"));
    assert!(refused(&[("namespace", "")]).contains("config.namespace"));
    assert!(refused(&[("token_env", "A=B")]).contains("environment variable name"));
    assert!(refused(&[("auth", "approle"), ("token_env", "T")]).contains("for `auth: token`"));
    assert!(refused(&[("role_id_env", "R")]).contains("config.role_id_env is for"));
    assert!(refused(&[("approle_mount", "ar")]).contains("config.approle_mount is for"));
}

#[test]
fn jwt_and_kubernetes_defaults() {
    let s = settings(&[("auth", "kubernetes"), ("role", " ci ")]);
    assert_eq!(
        s.auth,
        Auth::Jwt {
            kind: JwtKind::Kubernetes,
            role: "ci".into(),
            jwt_file: SERVICE_ACCOUNT_TOKEN.into(),
            mount: path("kubernetes"),
        }
    );
    let s = settings(&[("jwt_file", "/run/jwt"), ("role", "ci"), ("auth", "jwt")]);
    assert!(matches!(
        s.auth,
        Auth::Jwt { kind: JwtKind::Jwt, ref jwt_file, ref mount, .. }
            if jwt_file == "/run/jwt" && mount.to_string() == "jwt"
    ));
    let s = settings(&[
        ("auth", "kubernetes"),
        ("role", "ci"),
        ("jwt_file", "/var/run/secrets/vault/token"),
        ("auth_mount", "/k8s/prod/"),
    ]);
    assert!(matches!(
        s.auth,
        Auth::Jwt { ref jwt_file, ref mount, .. }
            if jwt_file == "/var/run/secrets/vault/token" && mount.to_string() == "k8s/prod"
    ));
}

#[test]
fn jwt_and_kubernetes_keys_are_checked() {
    for (pairs, says) in [
        (
            &[("auth", "jwt"), ("jwt_file", "/f")][..],
            "`auth: jwt` needs config.role, the name of the Vault role to log in as",
        ),
        (
            &[("auth", "kubernetes")],
            "`auth: kubernetes` needs config.role, the name of the Vault role to log in as",
        ),
        (
            &[("auth", "jwt"), ("role", "ci")],
            "`auth: jwt` needs config.jwt_file, the file that holds the JWT (and list it \
             under the provider's grants.files)",
        ),
        (
            &[("auth", "jwt"), ("role", " ")],
            "config.role is empty; it must be the name of the Vault role to log in as",
        ),
        (
            &[("auth", "jwt"), ("role", "ci"), ("jwt_file", "")],
            "config.jwt_file is empty; it must be the file that holds the JWT",
        ),
        (
            &[("role", "ci")],
            "config.role is for `auth: jwt` or `auth: kubernetes`; this provider uses a \
             token (set `auth: jwt` or `auth: kubernetes` to log in with a JWT)",
        ),
        (
            &[("auth", "approle"), ("jwt_file", "/f")],
            "config.jwt_file is for `auth: jwt` or `auth: kubernetes`; this provider logs \
             in with AppRole",
        ),
        (
            &[("auth_mount", "k8s"), ("auth", "token")],
            "config.auth_mount is for `auth: jwt` or `auth: kubernetes`; this provider uses \
             a token (set `auth: jwt` or `auth: kubernetes` to log in with a JWT)",
        ),
        (
            &[("auth", "kubernetes"), ("role", "ci"), ("token_env", "T")],
            "config.token_env is for `auth: token`; this provider logs in with Kubernetes",
        ),
        (
            &[("auth", "jwt"), ("role", "ci"), ("approle_mount", "ar")],
            "config.approle_mount is for `auth: approle`; this provider logs in with JWT",
        ),
    ] {
        assert_eq!(refused(pairs), says, "{pairs:?}");
    }
    assert!(refused(&[("auth_mount", "a/../b")]).contains("config.auth_mount"));
}

#[test]
fn the_jwt_is_read_from_its_file_at_connection() {
    let file = TempFile::new("settings-jwt", "  eyJhbGciOi.payload.signature\n");
    let s = settings(&[
        ("address", "http://v:8200"),
        ("auth", "jwt"),
        ("role", "ci"),
        ("jwt_file", file.path()),
    ]);
    match accepted(s.connection(&fake(&[]))).credentials {
        Credentials::Jwt(jwt) => assert_eq!(jwt, "eyJhbGciOi.payload.signature"),
        _ => panic!("not JWT credentials"),
    }
    let path = file.path().to_string();
    drop(file);
    let gone = s.connection(&fake(&[])).err();
    assert_eq!(
        gone.as_ref().map(Error::message),
        Some(
            format!(
                "config.jwt_file names {path}, but it is not there, or not granted: list \
                 `{path}` under the provider's grants.files"
            )
            .as_str()
        )
    );
    for (name, text) in [("empty", " \n"), ("binary", "eyJ\u{7f}secret")] {
        let file = TempFile::new(name, text);
        let s = settings(&[
            ("address", "http://v:8200"),
            ("auth", "kubernetes"),
            ("role", "ci"),
            ("jwt_file", file.path()),
        ]);
        let m = testing::refused(s.connection(&fake(&[])).map(|_| ()), "unavailable");
        assert_eq!(
            m,
            format!(
                "the JWT file {} (config.jwt_file) holds no JWT: it is empty or has \
                 characters a JWT does not",
                file.path()
            )
        );
    }
}

#[test]
fn address_from_config_or_vault_addr() {
    let from_env = settings(&[]);
    let vars = [
        ("VAULT_ADDR", "http://127.0.0.1:8200"),
        ("VAULT_TOKEN", "t0k"),
    ];
    let c = accepted(from_env.connection(&fake(&vars)));
    assert_eq!(c.origin.to_string(), "http://127.0.0.1:8200");
    assert!(matches!(c.credentials, Credentials::Token(ref t) if t == "t0k"));
    let from_config = settings(&[("address", "http://vault:8200")]);
    let c = accepted(from_config.connection(&fake(&vars)));
    assert_eq!(c.origin.to_string(), "http://vault:8200");
    let missing = from_env.connection(&fake(&[("VAULT_TOKEN", "t0k")]));
    assert!(missing.is_err_and(|e| e.message().starts_with("no Vault address: set config")));
    let bad = from_env.connection(&fake(&[("VAULT_ADDR", "vault"), ("VAULT_TOKEN", "t")]));
    assert!(bad.is_err_and(|e| e.message().starts_with("VAULT_ADDR is not a usable")));
}

#[test]
fn tokens_and_approle_credentials_come_from_the_environment() {
    let s = settings(&[("address", "http://v:8200")]);
    let e = s.connection(&fake(&[])).err();
    assert_eq!(
        e.as_ref().map(Error::message),
        Some(
            "VAULT_TOKEN is not visible to the Vault provider: set it and list it under \
             the provider's grants.env (or point config.token_env at another variable)"
        )
    );
    let e = s.connection(&fake(&[("VAULT_TOKEN", "a b")])).err();
    assert!(e.is_some_and(|e| {
        let m = e.message();
        m.contains("cannot carry") && !m.contains("a b")
    }));
    let e = s.connection(&fake(&[("VAULT_TOKEN", " \n")])).err();
    assert!(e.is_some_and(
        |e| e.message() == "VAULT_TOKEN is empty in the Vault provider's environment"
    ));

    let s = settings(&[("address", "http://v:8200"), ("auth", "approle")]);
    let vars = [("VAULT_ROLE_ID", "role\n"), ("VAULT_SECRET_ID", "sec")];
    match accepted(s.connection(&fake(&vars))).credentials {
        Credentials::AppRole { role_id, secret_id } => {
            assert_eq!((role_id.as_str(), secret_id.as_str()), ("role", "sec"))
        }
        _ => panic!("not AppRole credentials"),
    }
    let e = s.connection(&fake(&[("VAULT_ROLE_ID", "r")])).err();
    assert!(e.is_some_and(
        |e| e.message().starts_with("VAULT_SECRET_ID is not visible")
            && e.message().contains("config.secret_id_env")
    ));
}
