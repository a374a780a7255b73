//! Workload identity (AKS, or any federated credential): the token the
//! platform mounts in the file `AZURE_FEDERATED_TOKEN_FILE` names, sent to
//! Azure AD as a client assertion for the app `AZURE_CLIENT_ID` of tenant
//! `AZURE_TENANT_ID`, at `AZURE_AUTHORITY_HOST` (the variables the AKS
//! workload identity webhook injects), as `DefaultAzureCredential` does.
//!
//! The sandbox reads only files in the provider's `grants.files`:
//! `$AZURE_FEDERATED_TOKEN_FILE` grants the one the variable names. The file
//! is read at each token request, since the platform rotates it.

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::origin::Origin;

use crate::Error;
use crate::settings::{ClientCredentials, default_authority, identifier, read_env};

/// The variable naming the federated token's file.
pub const TOKEN_FILE_ENV: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// The app to sign in as: config's values, else the environment's.
pub fn client(
    tenant: Option<&str>,
    client_id: Option<&str>,
    authority: Option<&Origin>,
    read: &impl env::Read,
) -> Result<ClientCredentials, Error> {
    let from_env = |name: &str, what: &str, key: &str| -> Result<String, Error> {
        let value = read_env(read, name, what, &format!("or set config.{key}"))?;
        identifier(key, &value).map_err(|_| {
            Error::Unavailable(format!(
                "{name} does not hold an Azure AD ID (a GUID, or a tenant's domain name)"
            ))
        })
    };
    let tenant = match tenant {
        Some(tenant) => tenant.to_string(),
        None => from_env("AZURE_TENANT_ID", "the tenant (directory) ID", "tenant_id")?,
    };
    let client_id = match client_id {
        Some(id) => id.to_string(),
        None => from_env(
            "AZURE_CLIENT_ID",
            "the application (client) ID",
            "client_id",
        )?,
    };
    let authority = match authority {
        Some(authority) => authority.clone(),
        None => match env::optional(read, "AZURE_AUTHORITY_HOST")? {
            Some(host) if !host.is_empty() => crate::wire::parse_origin(&host).map_err(|why| {
                Error::Unavailable(format!(
                    "AZURE_AUTHORITY_HOST is not a usable Azure AD URL: it {why}"
                ))
            })?,
            _ => default_authority()?,
        },
    };
    Ok(ClientCredentials {
        authority,
        tenant,
        client_id,
        secret_env: TOKEN_FILE_ENV.to_string(),
        federated: true,
    })
}

/// The federated token, read now from the file `AZURE_FEDERATED_TOKEN_FILE`
/// names.
pub fn assertion(read: &impl env::Read) -> Result<String, Error> {
    let path = read_env(
        read,
        TOKEN_FILE_ENV,
        "the path of the federated token file",
        "the AKS workload identity webhook sets it",
    )?;
    let token = std::fs::read_to_string(&path).map_err(|e| {
        Error::Unavailable(match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => format!(
                "{TOKEN_FILE_ENV} names {path}, but it is not there, or not granted: list \
                 `${TOKEN_FILE_ENV}` under the provider's grants.files"
            ),
            kind => format!("{TOKEN_FILE_ENV} names {path}, but it cannot be read ({kind})"),
        })
    })?;
    let token = token.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Unavailable(format!(
            "the federated token file {path} holds no usable token"
        )));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use reqflo_plugin_sdk::env::fake;
    use reqflo_plugin_sdk::testing::{accepted, refused};

    use super::*;

    #[test]
    fn the_app_comes_from_config_or_the_environment() {
        let vars = fake(&[
            ("AZURE_TENANT_ID", "tenant-1"),
            ("AZURE_CLIENT_ID", "client-1"),
            ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us"),
        ]);
        let c = accepted(client(None, None, None, &vars));
        assert_eq!(
            (
                c.tenant.as_str(),
                c.client_id.as_str(),
                c.authority.to_string().as_str()
            ),
            ("tenant-1", "client-1", "https://login.microsoftonline.us")
        );
        assert!(c.federated);
        let c = accepted(client(Some("t2"), Some("c2"), None, &fake(&[])));
        assert_eq!((c.tenant.as_str(), c.client_id.as_str()), ("t2", "c2"));
        assert_eq!(c.authority.to_string(), "https://login.microsoftonline.com");
        let missing = refused(
            client(None, Some("c"), None, &fake(&[])).map(drop),
            "unavailable",
        );
        assert!(
            missing.starts_with("AZURE_TENANT_ID is not visible"),
            "{missing}"
        );
        let bad = fake(&[("AZURE_TENANT_ID", "a/b")]);
        let bad = refused(client(None, Some("c"), None, &bad).map(drop), "unavailable");
        assert_eq!(
            bad,
            "AZURE_TENANT_ID does not hold an Azure AD ID (a GUID, or a tenant's domain name)"
        );
    }

    #[test]
    fn the_token_is_read_from_the_file_each_time() {
        let file = std::env::temp_dir().join(format!("reqflo-federated-{}", std::process::id()));
        std::fs::write(&file, "first.jwt\n").ok();
        let path = file.display().to_string();
        let vars = [(TOKEN_FILE_ENV, path.as_str())];
        assert_eq!(accepted(assertion(&fake(&vars))), "first.jwt");
        std::fs::write(&file, "second.jwt").ok();
        assert_eq!(accepted(assertion(&fake(&vars))), "second.jwt");
        std::fs::remove_file(&file).ok();
        let gone = refused(assertion(&fake(&vars)), "unavailable");
        assert!(gone.contains("grants.files"), "{gone}");
        let unset = refused(assertion(&fake(&[])), "unavailable");
        assert!(
            unset.starts_with("AZURE_FEDERATED_TOKEN_FILE is not visible"),
            "{unset}"
        );
    }
}
