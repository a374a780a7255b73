//! Logging in for a token: `POST /v1/auth/{mount}/login`, answered with a
//! client token that the provider keeps for the run. AppRole sends a role ID
//! and a secret ID; the JWT and Kubernetes methods send a role and a JWT. The
//! answer is read the same way for all; only the body and the advice differ,
//! and those are the [`Method`].

use reqflo_plugin_sdk::http::{Failure, Request, Response, is_header_token};
use reqflo_plugin_sdk::origin::Origin;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::reference::VaultPath;
use crate::settings::JwtKind;
use crate::wire::{self, failure_error, unexpected, unreadable};

/// A login to make: where, and with what. No `Debug`: the method holds secrets.
pub struct Login<'a> {
    /// The server.
    pub origin: &'a Origin,
    /// Where the auth method is enabled (`approle`, `jwt`, `kubernetes`).
    pub mount: &'a VaultPath,
    /// The namespace, if any.
    pub namespace: Option<&'a str>,
    /// The auth method, its credentials and how messages name it.
    pub method: Method<'a>,
}

/// What differs between the auth methods: the body sent, and the words a
/// refusal uses. The credentials go into the body and nowhere else.
pub enum Method<'a> {
    /// AppRole: a role ID and a secret ID.
    AppRole {
        /// The role ID.
        role_id: &'a str,
        /// The secret ID.
        secret_id: &'a str,
        /// The variable the role ID came from, to name in messages.
        role_id_env: &'a str,
        /// The variable the secret ID came from, to name in messages.
        secret_id_env: &'a str,
    },
    /// The JWT or Kubernetes method: a role and a JWT.
    Jwt {
        /// Which of the two methods.
        kind: JwtKind,
        /// The Vault role to log in as; not secret, so messages name it.
        role: &'a str,
        /// The JWT.
        jwt: &'a str,
    },
}

/// The login's JSON body; untagged, so each variant is just its fields.
#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a> {
    AppRole {
        role_id: &'a str,
        secret_id: &'a str,
    },
    Jwt {
        role: &'a str,
        jwt: &'a str,
    },
}

#[derive(Deserialize)]
struct Answered {
    auth: Option<Auth>,
}

#[derive(Deserialize)]
struct Auth {
    client_token: Option<String>,
}

impl Method<'_> {
    /// How messages name the method: `AppRole`, `JWT` or `Kubernetes`.
    fn title(&self) -> &'static str {
        match self {
            Method::AppRole { .. } => "AppRole",
            Method::Jwt { kind, .. } => kind.title(),
        }
    }

    /// The config key that says where the method is enabled.
    fn mount_key(&self) -> &'static str {
        match self {
            Method::AppRole { .. } => "approle_mount",
            Method::Jwt { .. } => "auth_mount",
        }
    }

    fn body(&self) -> Body<'_> {
        match *self {
            Method::AppRole {
                role_id, secret_id, ..
            } => Body::AppRole { role_id, secret_id },
            Method::Jwt { role, jwt, .. } => Body::Jwt { role, jwt },
        }
    }

    /// "the X login at auth/M", and the role for the methods that take one:
    /// the same mount may serve many roles, each bound differently.
    fn login_at(&self, at: &str) -> String {
        match self {
            Method::AppRole { .. } => format!("the AppRole login at {at}"),
            Method::Jwt { kind, role, .. } => {
                format!("the {} login at {at} for role {role:?}", kind.title())
            }
        }
    }

    /// What to check when the server refused the credentials (400).
    fn check_credentials(&self) -> String {
        match self {
            Method::AppRole {
                role_id_env,
                secret_id_env,
                ..
            } => format!(
                "check the role ID in {role_id_env} and the secret ID in {secret_id_env} \
                 (a secret ID may have expired or run out of uses)"
            ),
            Method::Jwt {
                kind: JwtKind::Jwt, ..
            } => "check the role's bound claims and audience, and that the token has not expired"
                .into(),
            Method::Jwt {
                kind: JwtKind::Kubernetes,
                ..
            } => "check the role's bound service account names and namespaces".into(),
        }
    }

    /// What to check when the server refused the login itself (401, 403).
    fn check_method(&self) -> String {
        match self {
            Method::AppRole { .. } => "check that AppRole is enabled at that path \
                                       (config.approle_mount) and that the IDs belong to it"
                .into(),
            // Vault and OpenBao answer 403 "permission denied" alike for a
            // service account the role does not bind, for a token the
            // cluster's TokenReview no longer accepts, and for no method at
            // that path.
            Method::Jwt {
                kind: JwtKind::Kubernetes,
                ..
            } => "check the role's bound service account names and namespaces, that the \
                  cluster still accepts the service account token (Vault asks the TokenReview \
                  API at the method's kubernetes_host), and that the kubernetes auth method is \
                  enabled at that path (config.auth_mount)"
                .into(),
            Method::Jwt { kind, .. } => format!(
                "check that the {} auth method is enabled at that path (config.auth_mount)",
                kind.auth()
            ),
        }
    }
}

impl Login<'_> {
    /// The login request. Its body holds the credentials: it goes to the
    /// transport and nowhere else.
    pub fn request(&self) -> Result<Request, Error> {
        let body = serde_json::to_vec(&self.method.body()).map_err(|_| {
            Error::Unavailable(format!("cannot encode the {} login", self.method.title()))
        })?;
        let url = self.origin.url(&wire::login_path(self.mount));
        Ok(wire::post(url, body, self.namespace).header("content-type", "application/json"))
    }

    /// The client token from the login's answer, or an error that names the
    /// login and never the credentials or the body.
    pub fn interpret(&self, outcome: Result<Response, Failure>) -> Result<String, Error> {
        let origin = self.origin;
        let method = &self.method;
        let title = method.title();
        let at = format!("auth/{}", self.mount);
        let doing = format!("logging in with {title} at {at}");
        let answer = outcome.map_err(|failure| failure_error(origin, &failure, &doing))?;
        match answer.status {
            200..=299 => {
                let body: Answered =
                    serde_json::from_slice(&answer.body).map_err(|_| unreadable(origin, &doing))?;
                match body.auth.and_then(|a| a.client_token) {
                    // The token travels in a header on every read.
                    Some(token) if is_header_token(&token) => Ok(token),
                    _ => Err(Error::Unavailable(format!(
                        "Vault at {origin} answered the {title} login at {at} without a usable \
                         client token"
                    ))),
                }
            }
            // Vault answers 400 "invalid role or secret ID" (AppRole), or for
            // a JWT whose claims the role does not accept.
            400 => Err(Error::Denied(format!(
                "{} was refused (400): {}",
                method.login_at(&at),
                method.check_credentials()
            ))),
            // Vault answers 403 when no auth method is enabled at that path.
            401 | 403 => Err(Error::Denied(format!(
                "{} was refused ({}): {}",
                method.login_at(&at),
                answer.status,
                method.check_method()
            ))),
            // Not `NotFound`: a chain must not move on past a broken login.
            404 => Err(Error::Unavailable(format!(
                "Vault at {origin} has no {title} login at {at} (404): check config.{}",
                method.mount_key()
            ))),
            _ => Err(unexpected(origin, &answer, &doing)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{origin, path};
    use reqflo_plugin_sdk::http::Method as HttpMethod;
    use reqflo_plugin_sdk::testing::refused;

    const APPROLE: Method<'static> = Method::AppRole {
        role_id: "role-1",
        secret_id: "se\"cret",
        role_id_env: "VAULT_ROLE_ID",
        secret_id_env: "VAULT_SECRET_ID",
    };

    /// A JWT or Kubernetes login as role `ci`.
    const fn jwt(kind: JwtKind) -> Method<'static> {
        Method::Jwt {
            kind,
            role: "ci",
            jwt: "eyJhbGciOi.payload.signature",
        }
    }

    /// `check` on a login with `method` at `mount`, in namespace `team`.
    fn with_method<T>(mount: &str, method: Method<'_>, check: impl FnOnce(&Login<'_>) -> T) -> T {
        let origin = origin();
        let mount = path(mount);
        check(&Login {
            origin: &origin,
            mount: &mount,
            namespace: Some("team"),
            method,
        })
    }

    fn with_login<T>(check: impl FnOnce(&Login<'_>) -> T) -> T {
        with_method("approle", APPROLE, check)
    }

    fn login(status: u16, body: &str) -> Result<String, Error> {
        with_login(|l| l.interpret(Ok(Response::new(status, body))))
    }

    /// The answer a `kind` login at its default mount gets from `status`.
    fn jwt_login(kind: JwtKind, status: u16) -> Result<String, Error> {
        with_method(kind.auth(), jwt(kind), |l| {
            l.interpret(Ok(Response::new(status, r#"{"errors":["eyJ secret"]}"#)))
        })
    }

    /// The request's JSON body.
    fn json(request: &Request) -> serde_json::Value {
        match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_request_posts_the_ids_as_json() {
        let request = with_login(|l| l.request());
        let Ok(request) = request else {
            panic!("no request")
        };
        assert_eq!(request.method, HttpMethod::Post);
        assert_eq!(request.url, "http://vault:8200/v1/auth/approle/login");
        assert!(request.header_value("x-vault-token").is_none());
        assert_eq!(request.header_value("x-vault-namespace"), Some("team"));
        assert_eq!(
            request.header_value("content-type"),
            Some("application/json")
        );
        assert_eq!(
            json(&request),
            serde_json::json!({"role_id": "role-1", "secret_id": "se\"cret"})
        );
    }

    #[test]
    fn a_jwt_login_posts_the_role_and_the_jwt() {
        for (kind, mount) in [(JwtKind::Jwt, "jwt"), (JwtKind::Kubernetes, "k8s/prod")] {
            let request = with_method(mount, jwt(kind), |l| l.request());
            let Ok(request) = request else {
                panic!("no request")
            };
            assert_eq!(request.method, HttpMethod::Post);
            assert_eq!(
                request.url,
                format!("http://vault:8200/v1/auth/{mount}/login")
            );
            assert!(request.header_value("x-vault-token").is_none());
            assert_eq!(request.header_value("x-vault-namespace"), Some("team"));
            assert_eq!(
                json(&request),
                serde_json::json!({"role": "ci", "jwt": "eyJhbGciOi.payload.signature"})
            );
        }
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
        let answer = r#"{"auth": {"client_token": "s.k8s"}}"#;
        let kube = with_method("kubernetes", jwt(JwtKind::Kubernetes), |l| {
            l.interpret(Ok(Response::new(200, answer)))
        });
        assert_eq!(kube, Ok("s.k8s".into()));
        let m = refused(jwt_login(JwtKind::Jwt, 200), "unavailable");
        assert!(
            m.ends_with("answered the JWT login at auth/jwt without a usable client token"),
            "{m}"
        );
        let m = refused(jwt_login(JwtKind::Kubernetes, 502), "unavailable");
        assert!(
            m.contains("answered 502 while logging in with Kubernetes at auth/kubernetes"),
            "{m}"
        );
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

    #[test]
    fn jwt_refusals_name_the_method_mount_and_role_never_the_jwt() {
        for (kind, status, want) in [
            (
                JwtKind::Jwt,
                400,
                Error::Denied(
                    "the JWT login at auth/jwt for role \"ci\" was refused (400): check the \
                     role's bound claims and audience, and that the token has not expired"
                        .into(),
                ),
            ),
            (
                JwtKind::Kubernetes,
                400,
                Error::Denied(
                    "the Kubernetes login at auth/kubernetes for role \"ci\" was refused (400): \
                     check the role's bound service account names and namespaces"
                        .into(),
                ),
            ),
            (
                JwtKind::Jwt,
                403,
                Error::Denied(
                    "the JWT login at auth/jwt for role \"ci\" was refused (403): check that the \
                     jwt auth method is enabled at that path (config.auth_mount)"
                        .into(),
                ),
            ),
            (
                JwtKind::Kubernetes,
                401,
                Error::Denied(
                    "the Kubernetes login at auth/kubernetes for role \"ci\" was refused (401): \
                     check the role's bound service account names and namespaces, that the \
                     cluster still accepts the service account token (Vault asks the \
                     TokenReview API at the method's kubernetes_host), and that the kubernetes \
                     auth method is enabled at that path (config.auth_mount)"
                        .into(),
                ),
            ),
            (
                JwtKind::Jwt,
                404,
                Error::Unavailable(
                    "Vault at http://vault:8200 has no JWT login at auth/jwt (404): check \
                     config.auth_mount"
                        .into(),
                ),
            ),
            (
                JwtKind::Kubernetes,
                404,
                Error::Unavailable(
                    "Vault at http://vault:8200 has no Kubernetes login at auth/kubernetes \
                     (404): check config.auth_mount"
                        .into(),
                ),
            ),
        ] {
            let got = jwt_login(kind, status);
            let m = got.as_ref().err().map(Error::message).unwrap_or_default();
            assert!(!m.contains("eyJ"), "{m}");
            assert_eq!(got, Err(want));
        }
    }
}
