//! A FAKE 1Password Connect server, for tests: not 1Password's software.
//!
//! Documentation it follows:
//! - the Connect REST API reference,
//!   <https://developer.1password.com/docs/connect/api-reference>;
//! - Connect's list filters (`name eq "…"`, `title eq "…"`), which match
//!   names case-sensitively as the real server does (see
//!   <https://github.com/1Password/connect/issues/18> and the 1Password
//!   operator's own case-insensitive fallback), unlike `op`;
//! - the item and field shapes of
//!   <https://developer.1password.com/docs/connect/connect-api-reference/#item-object>;
//! - OTP fields as Connect 1.4.0 and later serve them: the `otpauth://` URI
//!   as `value`, the current code as `totp` (Connect's changelog, v1.4.0:
//!   "Added the generated TOTP code to the body of OTP fields in Items"; the
//!   `TOTP` of `ItemField` in <https://github.com/1Password/connect-sdk-go>),
//!   computed as RFC 6238 says (<https://www.rfc-editor.org/rfc/rfc6238>).
//!
//! It follows the documented Connect REST API for the
//! read-only routes a secret resolver needs: listing and filtering vaults and
//! items, reading a full item, `/heartbeat` and `/health`:
//! - `GET /v1/vaults[?filter=name eq "…"]` and `GET /v1/vaults/{vault}`;
//! - `GET /v1/vaults/{vault}/items[?filter=title eq "…" | tag eq "…"]`: item
//!   summaries (no fields, sections or files), archived items included with
//!   their `"state": "ARCHIVED"`, as Connect lists them;
//! - `GET /v1/vaults/{vault}/items/{item}`: the full item, archived or not,
//!   with `files` as `{id, name, size, content_path, section?}` and each OTP
//!   field's current `totp` (left out after
//!   [`FakeConnect::set_totp_codes`]`(false)`, as Connect before 1.4.0 did);
//! - `GET /v1/vaults/{vault}/items/{item}/files/{file}/content`: the file's
//!   raw bytes (404 with Connect's error JSON for an unknown file).
//!
//! Every `/v1` route
//! checks `Authorization: Bearer <token>` against [`ConnectData::tokens`], and
//! a token may be limited to some vaults. Tests can also read the request log,
//! slow every response down, or redirect every route elsewhere.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use reqflo_fakes::onepassword::{ConnectData, FakeConnect};
//! let fake = FakeConnect::spawn(ConnectData::sample("sk_test_1", "whsec_1")).await?;
//! println!("fake Connect at {}", fake.url());
//! # Ok(())
//! # }
//! ```

mod data;
mod filter;
mod otp;
mod server;

pub use data::*;
pub use otp::totp_code;
pub use server::FakeConnect;
