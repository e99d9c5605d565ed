//! Bearer tokens (`src/http/auth.rs`, `src/auth.rs`): any `Authorization` header is a user or a
//! 401, with a fixed key and clock; a token the server issues verifies to whom it was issued.
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use storefront::fuzzing::{self, client_error};

const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let keys = fuzzing::token_keys(NOW);
    if let Ok(value) = HeaderValue::from_bytes(data) {
        match fuzzing::bearer(&keys, &value) {
            Ok(claims) => assert!(claims.user_id > 0, "{claims:?}"),
            Err(e) => assert_eq!(e.status(), 401, "{:?}", e.problem()),
        }
    }
    // [user id: 8][session…], issued then read back.
    if data.len() >= 8 {
        let user_id = i64::from_le_bytes(data[..8].try_into().unwrap());
        let session = String::from_utf8_lossy(&data[8..]);
        let token = keys.issue_access(user_id, &session).unwrap();
        let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let valid = user_id > 0 && !session.is_empty() && session.len() <= 64;
        match client_error(fuzzing::bearer(&keys, &value)) {
            Some(claims) => {
                assert!(valid, "accepted {user_id} {session:?}");
                assert_eq!((claims.user_id, claims.session.as_str()), (user_id, session.as_ref()));
            }
            None => assert!(!valid, "refused {user_id} {session:?}"),
        }
        // Another server's clock, a day later: expired.
        assert!(fuzzing::bearer(&fuzzing::token_keys(NOW + 86_400), &value).is_err());
    }
});
