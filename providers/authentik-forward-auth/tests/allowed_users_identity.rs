//! `fwdauth_protected_host.allowed_users` binds the account it names, and
//! only one. In Authentik a `User`'s e-mail is neither unique nor verified
//! and a new account may take another user's address as its username
//! (Django `AbstractUser` via `authentik/core/models.py`; see
//! `src/accounts.rs`), so an entry several accounts answer to fails the
//! plan instead of binding whichever came last: before this, an account
//! that merely claimed Viktor's address was bound to the host.

mod common;

use authentik_emulator::{Emulator, access};
use common::SOURCE;
use serde_json::json;

fn config(user: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}

resource "fwdauth_protected_host" "chrome" {{
  slug          = "chrome"
  name          = "Chrome"
  external_host = "https://chrome.example.com"
  allowed_users = ["{user}"]
}}
"#
    )
}

fn user(emu: &Emulator, username: &str, email: &str) {
    emu.with(|i| {
        i.store.insert_unchecked(
            "core/users",
            json!({"username": username, "name": username, "email": email}),
        )
    });
}

fn admitted(emu: &Emulator, username: &str) -> bool {
    let pk =
        emu.with(|i| i.store.get_by("core/users", "username", username).unwrap()["pk"].clone());
    let (status, body) =
        emu.with(|i| access::check_access(&i.store, "chrome", &format!("for_user={pk}"), &[]));
    assert_eq!(status, 200, "{body}");
    body["passing"].as_bool().unwrap()
}

#[test]
fn an_address_or_name_two_accounts_answer_to_binds_neither() {
    let emu = Emulator::start();
    user(&emu, "viktor", "vbarzin@gmail.com");
    // Claims Viktor's address; sorts after him, as the account a
    // last-wins lookup picked.
    user(&emu, "zz-mallory", "vbarzin@gmail.com");
    let h = common::harness(&emu);
    h.config(&config("vbarzin@gmail.com"));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success(), "{}", out.combined());
    let text = out.combined();
    assert!(
        text.contains("is ambiguous") && text.contains("zz-mallory") && text.contains("viktor"),
        "{text}"
    );
    // By username: exactly Viktor.
    h.config(&config("viktor"));
    h.apply();
    h.assert_plan_empty();
    assert!(admitted(&emu, "viktor"));
    assert!(
        !admitted(&emu, "zz-mallory"),
        "the address claimer is not admitted"
    );
    // A new account whose username is Viktor's address: the address
    // entry now names two accounts again and is refused.
    user(&emu, "vbarzin@gmail.com", "");
    h.config(&config("vbarzin@gmail.com"));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success(), "{}", out.combined());
    assert!(
        out.combined().contains("is ambiguous"),
        "{}",
        out.combined()
    );
    assert!(!admitted(&emu, "vbarzin@gmail.com"));
}
