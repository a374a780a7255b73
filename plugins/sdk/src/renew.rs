//! When a fetched credential (an access token, temporary keys) is renewed:
//! [`MARGIN`] before it expires, as the clouds' own SDKs do, so that it does
//! not run out between being picked and being checked. The lifetime comes
//! from a server, so the arithmetic never overflows: a credential whose
//! expiry is past what the clock can hold is renewed at its next use.

use std::time::{Duration, Instant, SystemTime};

/// A credential this close to its expiry is renewed before it is used.
pub const MARGIN: Duration = Duration::from_secs(300);

/// A point in time: [`Instant`] or [`SystemTime`].
pub trait Moment: Copy {
    /// `self + duration`, or `None` past what the clock can hold.
    fn checked_add(&self, duration: Duration) -> Option<Self>;
    /// `self - duration`, or `None` before what the clock can hold.
    fn checked_sub(&self, duration: Duration) -> Option<Self>;
}

impl Moment for Instant {
    fn checked_add(&self, duration: Duration) -> Option<Self> {
        Instant::checked_add(self, duration)
    }

    fn checked_sub(&self, duration: Duration) -> Option<Self> {
        Instant::checked_sub(self, duration)
    }
}

impl Moment for SystemTime {
    fn checked_add(&self, duration: Duration) -> Option<Self> {
        SystemTime::checked_add(self, duration)
    }

    fn checked_sub(&self, duration: Duration) -> Option<Self> {
        SystemTime::checked_sub(self, duration)
    }
}

/// When to renew a credential that expires at `expires`: [`MARGIN`] before.
pub fn before<T: Moment>(expires: T) -> T {
    expires.checked_sub(MARGIN).unwrap_or(expires)
}

/// When to renew a credential issued at `issued` that lives `lifetime`:
/// [`MARGIN`] before it expires; `issued` itself (so at its next use) when
/// it lives no longer than that, or expires past what the clock can hold.
pub fn at<T: Moment>(issued: T, lifetime: Duration) -> T {
    lifetime
        .checked_sub(MARGIN)
        .and_then(|usable| issued.checked_add(usable))
        .unwrap_or(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_five_minutes_before_expiry_and_never_overflows() {
        let now = Instant::now();
        let hour = Duration::from_secs(3600);
        assert_eq!(at(now, hour), now + hour - MARGIN);
        assert_eq!(at(now, MARGIN), now);
        assert_eq!(at(now, Duration::from_secs(60)), now);
        assert_eq!(at(now, Duration::ZERO), now);
        assert_eq!(at(now, Duration::from_secs(u64::MAX)), now);
        let wall = SystemTime::UNIX_EPOCH + hour;
        assert_eq!(before(wall), wall - MARGIN);
        assert_eq!(
            before(SystemTime::UNIX_EPOCH),
            SystemTime::UNIX_EPOCH - MARGIN
        );
        assert_eq!(at(wall, Duration::from_secs(u64::MAX)), wall);
    }
}
