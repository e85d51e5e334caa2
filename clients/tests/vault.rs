//! The Vault client against a real OpenBao dev server: KV v2
//! check-and-set as the server enforces it, Transit round trips, and
//! error text as the server writes it (status, its own words, no token).

use infra_clients::vault::{Options, Vault, VaultError};
use testsupport::OpenBao;

fn root(bao: &OpenBao) -> Vault {
    Vault::with_token(&bao.addr(), bao.token(), &Options::default()).unwrap()
}

#[test]
fn kv_v2_check_and_set_lets_exactly_one_writer_win() {
    let bao = OpenBao::start();
    let v = root(&bao);
    assert!(v.kv_read("secret", "locks/a").unwrap().is_none());
    let one = serde_json::json!({"who": "one"});
    let two = serde_json::json!({"who": "two"});
    // cas=0: only when the entry does not exist yet.
    assert_eq!(
        v.kv_write_cas("secret", "locks/a", 0, &one).unwrap(),
        Some(1)
    );
    assert_eq!(v.kv_write_cas("secret", "locks/a", 0, &two).unwrap(), None);
    // A stale version loses too; the current one wins.
    assert_eq!(
        v.kv_write_cas("secret", "locks/a", 1, &two).unwrap(),
        Some(2)
    );
    assert_eq!(v.kv_write_cas("secret", "locks/a", 1, &one).unwrap(), None);
    let entry = v.kv_read("secret", "locks/a").unwrap().unwrap();
    assert_eq!(entry.version, 2);
    assert_eq!(entry.data, two);
    let server_time = entry.server_time.expect("OpenBao sends a Date header");
    assert!((server_time - entry.created_time).whole_seconds().abs() < 3600);
    // The latest version deleted: reads as missing, the metadata still
    // counts it, and only that count wins a check-and-set.
    bao.bao(&["kv", "delete", "-mount=secret", "locks/a"]);
    assert!(v.kv_read("secret", "locks/a").unwrap().is_none());
    assert_eq!(v.kv_current_version("secret", "locks/a").unwrap(), 2);
    assert_eq!(v.kv_write_cas("secret", "locks/a", 0, &one).unwrap(), None);
    assert_eq!(
        v.kv_write_cas("secret", "locks/a", 2, &one).unwrap(),
        Some(3)
    );
    assert_eq!(v.kv_current_version("secret", "locks/never").unwrap(), 0);
}

#[test]
fn transit_round_trip_and_refusals() {
    let bao = OpenBao::start();
    bao.bao(&["secrets", "enable", "transit"]);
    bao.bao(&["write", "-f", "transit/keys/state"]);
    bao.bao(&["write", "-f", "transit/keys/other"]);
    let v = root(&bao);
    let data_key = [7u8; 32];
    let enc = v.transit_encrypt("transit", "state", &data_key).unwrap();
    assert!(enc.starts_with("vault:v1:"), "{enc}");
    assert_eq!(
        v.transit_decrypt("transit", "state", &enc).unwrap(),
        data_key
    );
    let err = v.transit_decrypt("transit", "other", &enc).unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
}

#[test]
fn errors_carry_the_status_and_vaults_words_but_never_the_token() {
    let bao = OpenBao::start();
    // The `default` policy grants nothing under `secret/`.
    let token = bao
        .bao(&["token", "create", "-policy=default", "-field=token"])
        .trim()
        .to_string();
    let v = Vault::with_token(&bao.addr(), &token, &Options::default()).unwrap();
    let err = v.read("secret/data/anything").unwrap_err();
    let VaultError::Status { status, errors, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 403);
    assert!(errors.contains("permission denied"), "{errors}");
    let text = format!("{err} {err:?} {v:?}");
    // OpenBao writes "1 error occurred:\n\t* permission denied\n\n": one line here.
    assert!(
        text.starts_with("error reading from Vault: Code: 403. Errors: * 1 error occurred:")
            && !text.contains('\n'),
        "{text}"
    );
    assert!(!text.contains(&token), "{text}");
    // No answer: the error names the address, not the token.
    let down = Vault::with_token("http://127.0.0.1:1", &token, &Options::default()).unwrap();
    let err = down.read("sys/health").unwrap_err();
    assert!(matches!(err, VaultError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().contains("http://127.0.0.1:1/v1/sys/health"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains(&token));
}
