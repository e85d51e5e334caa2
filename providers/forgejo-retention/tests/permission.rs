//! The plan-time delete-permission check through the real terraform binary,
//! against an emulator that decides write access the way Forgejo v11.0.10
//! does (owner, site admin, organisation teams and their Packages unit,
//! token scopes; see `testdata/forgejo-emulator/src/accounts.rs`). Every
//! case plans a policy with `dry_run = false`, so a refusal is an error
//! that stops the plan, and must name its cause and its fix.

mod common;

use forgejo_emulator::{Access, Emulator, Visibility, seed_demo};
use terraform_provider_forgejo_retention::permission::PROBE_PACKAGE;
use tfplugin::testing::RunOutput;

/// The organisation of the seeds' registry and its teams: `viktor` owns it
/// (Owners team), `builders` may write packages (a read team whose Packages
/// unit is Write), `readers` may only read them, `devs` write code but
/// have no Packages unit; `outsider` is in no team.
fn org() -> Emulator {
    let emu = Emulator::new()
        .org("platform", Visibility::Public)
        .team(
            "platform",
            "Owners",
            Access::Owner,
            Access::Owner,
            &["viktor"],
        )
        .team(
            "platform",
            "builders",
            Access::Read,
            Access::Write,
            &["ci-builder"],
        )
        .team(
            "platform",
            "readers",
            Access::Read,
            Access::Read,
            &["ci-pusher"],
        )
        .user("outsider")
        .admin("root");
    seed_demo(&emu, "platform");
    emu
}

/// `terraform plan` of a deleting policy for `owner`, with `token`.
fn plan(emu: &Emulator, owner: &str, token: &str) -> RunOutput {
    plan_with(emu, owner, token, "false")
}

fn plan_with(emu: &Emulator, owner: &str, token: &str, dry_run: &str) -> RunOutput {
    let url = emu.spawn(0);
    let h = common::harness(token);
    h.config(&format!(
        r#"{}
resource "retention_policy" "web" {{
  owner     = "{owner}"
  package   = "web"
  keep_last = 3
  dry_run   = {dry_run}
}}
"#,
        common::provider(&url, "")
    ));
    h.run(&["plan", "-no-color"])
}

fn allowed(out: &RunOutput) {
    let text = out.combined();
    assert!(out.success(), "the plan must pass:\n{text}");
    assert!(!text.contains("Token cannot delete"), "{text}");
}

/// The plan fails with the check's error, which contains every `needle`.
fn refused(out: &RunOutput, needles: &[&str]) {
    let text = out.combined().replace('\n', " ");
    assert!(!out.success(), "the plan must fail:\n{text}");
    assert!(text.contains("Token cannot delete"), "{text}");
    for n in needles {
        assert!(text.contains(n), "the diagnostic names {n:?}:\n{text}");
    }
}

#[test]
fn the_owners_token_may_delete() {
    let emu = Emulator::new().token("t", "viktor", &["write:package"]);
    seed_demo(&emu, "viktor");
    allowed(&plan(&emu, "viktor", "t"));
    // The check asked Forgejo once and changed nothing.
    let checks: Vec<String> = emu
        .requests()
        .into_iter()
        .filter(|r| r.contains(PROBE_PACKAGE))
        .collect();
    assert!(
        !checks.is_empty() && checks.iter().all(|r| r.starts_with("POST ")),
        "{checks:?}"
    );
    assert!(
        emu.has_version("viktor", "web", "sha-0000"),
        "plan deletes nothing"
    );
}

#[test]
fn an_org_member_whose_team_writes_packages_may_delete() {
    let emu = org().token("t", "ci-builder", &["write:package"]);
    allowed(&plan(&emu, "platform", "t"));
}

#[test]
fn an_org_owner_and_a_site_admin_may_delete() {
    let emu = org().token("owner", "viktor", &["write:package"]).token(
        "admin",
        "root",
        &["write:package"],
    );
    allowed(&plan(&emu, "platform", "owner"));
    allowed(&plan(&emu, "platform", "admin"));
}

#[test]
fn a_read_only_org_member_is_refused_naming_its_team() {
    let emu = org().token("t", "ci-pusher", &["write:package", "read:user"]);
    refused(
        &plan(&emu, "platform", "t"),
        &[
            "\"ci-pusher\"",
            "\"readers\" (permission read, packages read)",
            "403",
            "Fix:",
            "Write on its Packages unit",
        ],
    );
}

#[test]
fn a_token_without_the_package_write_scope_is_refused() {
    // The owner's own token, but read-only: listing works, deleting would not.
    let emu = Emulator::new().token("t", "viktor", &["read:package"]);
    seed_demo(&emu, "viktor");
    refused(
        &plan(&emu, "viktor", "t"),
        &[
            "lacks the `write:package` scope",
            "required scope(s): [write:package]",
            "Fix: create a token with the package permission",
        ],
    );
}

#[test]
fn another_users_token_is_refused_the_seeds_403() {
    // ci-pusher's token against viktor's packages: a DELETE of a missing
    // version answers 404 to it on Forgejo, the write check does not.
    let emu =
        Emulator::new()
            .user("viktor")
            .token("t", "ci-pusher", &["write:package", "read:user"]);
    seed_demo(&emu, "viktor");
    refused(
        &plan(&emu, "viktor", "t"),
        &[
            "\"ci-pusher\"",
            "neither \"viktor\" nor a member",
            "Fix: use a `write:package` token of \"viktor\"",
        ],
    );
}

#[test]
fn without_read_user_the_refusal_says_who_is_unknown() {
    let emu = org().token("t", "outsider", &["write:package"]);
    refused(
        &plan(&emu, "platform", "t"),
        &["the token lacks `read:user`", "403", "Fix:"],
    );
}

#[test]
fn an_unknown_owner_is_named() {
    let emu = Emulator::new().token("t", "viktor", &["write:package"]);
    seed_demo(&emu, "viktor");
    let out = plan(&emu, "nobody", "t");
    let text = out.combined();
    assert!(!out.success(), "{text}");
    // The listing already fails on the missing owner (404) before the check.
    assert!(
        text.contains("listing packages of \"nobody\": 404"),
        "{text}"
    );
}

#[test]
fn a_public_only_token_on_a_private_org_is_refused() {
    let emu = Emulator::new()
        .org("hidden", Visibility::Private)
        .team(
            "hidden",
            "Owners",
            Access::Owner,
            Access::Owner,
            &["viktor"],
        )
        .token("t", "viktor", &["write:package", "public-only"]);
    seed_demo(&emu, "hidden");
    let out = plan(&emu, "hidden", "t");
    let text = out.combined();
    assert!(!out.success(), "{text}");
    // Forgejo's checkTokenPublicOnly refuses the listing already (403).
    assert!(
        text.contains("listing packages of \"hidden\": 403"),
        "{text}"
    );
}

#[test]
fn in_dry_run_a_refusal_is_a_warning() {
    let emu = org().token("t", "ci-pusher", &["write:package", "read:user"]);
    let out = plan_with(&emu, "platform", "t", "true");
    let text = out.combined();
    assert!(out.success(), "a dry run plans:\n{text}");
    assert!(
        text.contains("Warning: Token cannot delete") && text.contains("\"readers\""),
        "{text}"
    );
}

#[test]
fn a_server_without_the_write_check_route_fails_closed() {
    // Forgejo before 11 has no unlink route: a plain 404 (or anything but
    // Forgejo's "package does not exist") must not read as permission.
    let emu = Emulator::new().token("t", "viktor", &["write:package"]);
    seed_demo(&emu, "viktor");
    emu.inject_for(
        &format!("POST /api/v1/packages/viktor/container/{PROBE_PACKAGE}/-/unlink"),
        &[404, 404, 404],
    );
    refused(
        &plan(&emu, "viktor", "t"),
        &["was 404", "permission to delete cannot be established"],
    );
}
