//! Workload identity (AKS, or any federated credential): the token the
//! platform mounts in the file `AZURE_FEDERATED_TOKEN_FILE` names, sent to
//! Azure AD as a client assertion for the app `AZURE_CLIENT_ID` of tenant
//! `AZURE_TENANT_ID`, at `AZURE_AUTHORITY_HOST` (the variables the AKS
//! workload identity webhook injects), as `DefaultAzureCredential` does.
//!
//! The sandbox reads only files in the provider's `grants.files`:
//! `$AZURE_FEDERATED_TOKEN_FILE` grants the one the variable names. The host
//! copies a granted file once, when the provider's sandbox starts (once a
//! run); the plugin reads its copy at each token request, so a token the
//! platform rotates during a run is seen at the next run.

use reqflo_plugin_sdk::env;
use reqflo_plugin_sdk::http::is_header_token;

use crate::Error;
use crate::settings::read_granted_file;

/// The variable naming the federated token's file.
pub const TOKEN_FILE_ENV: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// The federated token, read now from the file `AZURE_FEDERATED_TOKEN_FILE`
/// names.
pub fn assertion(read: &impl env::Read) -> Result<String, Error> {
    let (path, token) = read_granted_file(
        read,
        TOKEN_FILE_ENV,
        "the path of the federated token file",
        "the AKS workload identity webhook sets it",
    )?;
    let token = String::from_utf8(token).unwrap_or_default();
    let token = token.trim();
    if !is_header_token(token) {
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
