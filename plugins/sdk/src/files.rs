//! Files, as a provider sees them: only those in its `grants.files` exist
//! inside the sandbox (copies the host made when the sandbox started), so
//! "not there" usually means "not granted", and the messages say what to
//! grant. Every message names the file and what named it, never a byte of
//! what it holds.

use std::io;

use crate::Error;

/// The file at `path`, read now. `named_by` is what gave the path, as users
/// write it: a variable (`AWS_CONFIG_FILE`, then `$AWS_CONFIG_FILE` is what
/// to grant) or a key (`config.jwt_file`, then the path itself is).
pub fn read(path: &str, named_by: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| unreadable(&e, path, named_by))
}

/// [`read`], as UTF-8 text.
pub fn read_text(path: &str, named_by: &str) -> Result<String, Error> {
    String::from_utf8(read(path, named_by)?).map_err(|_| {
        Error::Unavailable(format!(
            "{named_by} names {path}, but it does not hold UTF-8 text"
        ))
    })
}

/// The error for the file at `path`, which `named_by` gave, when reading it
/// failed with `error`.
pub fn unreadable(error: &io::Error, path: &str, named_by: &str) -> Error {
    Error::Unavailable(if is_unseen(error) {
        format!(
            "{named_by} names {path}, but it is not there, or not granted: list `{}` under \
             the provider's grants.files",
            grant(path, named_by)
        )
    } else {
        format!(
            "{named_by} names {path}, but it cannot be read ({})",
            error.kind()
        )
    })
}

/// Whether a read failed because the sandbox does not see the file: not
/// there and not granted look alike from inside.
pub fn is_unseen(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
    )
}

/// What to list under `grants.files`: `$NAME` grants the file the variable
/// `NAME` names; a path from anywhere else is granted as it is.
fn grant(path: &str, named_by: &str) -> String {
    let variable = !named_by.is_empty()
        && named_by
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if variable {
        format!("${named_by}")
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempFile;

    #[test]
    fn a_file_is_read_or_named_with_what_to_grant() {
        let file = TempFile::new("files-read", "text\n");
        let path = file.path().to_string();
        assert_eq!(read_text(&path, "TOKEN_FILE"), Ok("text\n".into()));
        let binary = TempFile::new("files-binary", "");
        std::fs::write(binary.path(), [0xff, 0xfe]).ok();
        assert_eq!(read(binary.path(), "X"), Ok(vec![0xff, 0xfe]));
        assert_eq!(
            read_text(binary.path(), "config.key_file").map_err(|e| e.message().to_string()),
            Err(format!(
                "config.key_file names {}, but it does not hold UTF-8 text",
                binary.path()
            ))
        );
        drop(file);
        let gone = |named_by| read(&path, named_by).map_err(|e| (e.kind(), e.message().into()));
        assert_eq!(
            gone("TOKEN_FILE"),
            Err::<Vec<u8>, (&str, String)>((
                "unavailable",
                format!(
                    "TOKEN_FILE names {path}, but it is not there, or not granted: list \
                     `$TOKEN_FILE` under the provider's grants.files"
                )
            ))
        );
        assert_eq!(
            gone("config.jwt_file").map_err(|(_, m)| m),
            Err(format!(
                "config.jwt_file names {path}, but it is not there, or not granted: list \
                 `{path}` under the provider's grants.files"
            ))
        );
        let directory = std::env::temp_dir().display().to_string();
        let other = read(&directory, "DIR").map_err(|e| e.message().to_string());
        assert!(
            other.as_ref().is_err_and(
                |m| m.starts_with(&format!("DIR names {directory}, but it cannot be read ("))
            ),
            "{other:?}"
        );
    }
}
