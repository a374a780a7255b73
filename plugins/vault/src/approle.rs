//! AppRole login: `POST /v1/auth/{mount}/login` with a role ID and a secret
//! ID, answered with a client token that the provider keeps for the run.

use reqflo_plugin_sdk::http::{Failure, Request, Response};
use reqflo_plugin_sdk::origin::Origin;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::reference::VaultPath;
use crate::wire::{self, failure_error, unexpected, unreadable};

/// What the login needs besides the credentials, for the request and messages.
pub struct Login<'a> {
    /// The server.
    pub origin: &'a Origin,
    /// Where AppRole is enabled (`approle`).
    pub mount: &'a VaultPath,
    /// The namespace, if any.
    pub namespace: Option<&'a str>,
    /// The variable the role ID came from, to name in messages.
    pub role_id_env: &'a str,
    /// The variable the secret ID came from, to name in messages.
    pub secret_id_env: &'a str,
}

#[derive(Serialize)]
struct Body<'a> {
    role_id: &'a str,
    secret_id: &'a str,
}

#[derive(Deserialize)]
struct Answered {
    auth: Option<Auth>,
}

#[derive(Deserialize)]
struct Auth {
    client_token: Option<String>,
}

impl Login<'_> {
    /// The login request. Its body holds the secret ID: it goes to the
    /// transport and nowhere else.
    pub fn request(&self, role_id: &str, secret_id: &str) -> Result<Request, Error> {
        let body = serde_json::to_vec(&Body { role_id, secret_id })
            .map_err(|_| Error::Unavailable("cannot encode the AppRole login".into()))?;
        let url = self.origin.url(&wire::login_path(self.mount));
        Ok(wire::post(url, body, self.namespace).header("content-type", "application/json"))
    }

    /// The client token from the login's answer, or an error that names the
    /// login and never the credentials or the body.
    pub fn interpret(&self, outcome: Result<Response, Failure>) -> Result<String, Error> {
        let origin = self.origin;
        let at = format!("auth/{}", self.mount);
        let doing = format!("logging in with AppRole at {at}");
        let answer = outcome.map_err(|failure| failure_error(origin, &failure, &doing))?;
        match answer.status {
            200..=299 => {
                let body: Answered =
                    serde_json::from_slice(&answer.body).map_err(|_| unreadable(origin, &doing))?;
                match body.auth.and_then(|a| a.client_token) {
                    // The token travels in a header on every read.
                    Some(token)
                        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()) =>
                    {
                        Ok(token)
                    }
                    _ => Err(Error::Unavailable(format!(
                        "Vault at {origin} answered the AppRole login at {at} without a usable \
                         client token"
                    ))),
                }
            }
            // Vault answers 400 "invalid role or secret ID".
            400 => Err(Error::Denied(format!(
                "the AppRole login at {at} was refused (400): check the role ID in {} and the \
                 secret ID in {} (a secret ID may have expired or run out of uses)",
                self.role_id_env, self.secret_id_env
            ))),
            // Vault answers 403 when no auth method is enabled at that path.
            401 | 403 => Err(Error::Denied(format!(
                "the AppRole login at {at} was refused ({}): check that AppRole is enabled \
                 at that path (config.approle_mount) and that the IDs belong to it",
                answer.status
            ))),
            // Not `NotFound`: a chain must not move on past a broken login.
            404 => Err(Error::Unavailable(format!(
                "Vault at {origin} has no AppRole login at {at} (404): check \
                 config.approle_mount"
            ))),
            _ => Err(unexpected(origin, &answer, &doing)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{origin, path};
    use reqflo_plugin_sdk::http::Method;
    use reqflo_plugin_sdk::testing::refused;

    fn with_login<T>(check: impl FnOnce(&Login<'_>) -> T) -> T {
        let origin = origin();
        let mount = path("approle");
        check(&Login {
            origin: &origin,
            mount: &mount,
            namespace: Some("team"),
            role_id_env: "VAULT_ROLE_ID",
            secret_id_env: "VAULT_SECRET_ID",
        })
    }

    fn login(status: u16, body: &str) -> Result<String, Error> {
        with_login(|l| l.interpret(Ok(Response::new(status, body))))
    }

    #[test]
    fn the_request_posts_the_ids_as_json() {
        let request = with_login(|l| l.request("role-1", "se\"cret"));
        let Ok(request) = request else {
            panic!("no request")
        };
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "http://vault:8200/v1/auth/approle/login");
        assert!(request.header_value("x-vault-token").is_none());
        assert_eq!(request.header_value("x-vault-namespace"), Some("team"));
        assert_eq!(
            request.header_value("content-type"),
            Some("application/json")
        );
        let body: serde_json::Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            body,
            serde_json::json!({"role_id": "role-1", "secret_id": "se\"cret"})
        );
    }

    #[test]
    fn a_login_gives_the_client_token() {
        assert_eq!(
            login(
                200,
                r#"{"auth": {"client_token": "s.abc", "policies": ["p"]}}"#
            ),
            Ok("s.abc".into())
        );
        for body in [
            r#"{"auth": null}"#,
            r#"{"auth": {"client_token": ""}}"#,
            r#"{"auth": {"client_token": "a b"}}"#,
        ] {
            let m = refused(login(200, body), "unavailable");
            assert!(m.contains("without a usable client token"), "{m}");
            assert!(!m.contains("a b"));
        }
    }

    #[test]
    fn refusals_name_the_variables_never_the_ids() {
        let m = refused(
            login(400, r#"{"errors":["invalid role or secret ID"]}"#),
            "denied",
        );
        assert!(
            m.starts_with("the AppRole login at auth/approle was refused (400)"),
            "{m}"
        );
        assert!(
            m.contains("VAULT_ROLE_ID") && m.contains("VAULT_SECRET_ID"),
            "{m}"
        );
        for (status, kind, says) in [
            (403, "denied", "config.approle_mount"),
            (404, "unavailable", "no AppRole login at auth/approle (404)"),
            (
                502,
                "unavailable",
                "answered 502 while logging in with AppRole",
            ),
        ] {
            let m = refused(login(status, ""), kind);
            assert!(m.contains(says), "{m}");
        }
    }
}
