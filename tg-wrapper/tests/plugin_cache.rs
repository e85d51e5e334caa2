//! The shared provider cache tg sets for terraform: a provider the first
//! stack installed from the mirror is linked from the cache by the second
//! stack's init, which installs nothing. Real terraform with a filesystem
//! mirror holding one provider package (init only installs and hashes it;
//! nothing here runs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use testsupport::{output_text, require_bin, write_executable};

const TG: &str = env!("CARGO_BIN_EXE_tg");
const PROVIDER: &str = "registry.terraform.io/test/fake/1.0.0/linux_amd64";

struct Infra {
    dir: tempfile::TempDir,
}

impl Infra {
    fn new(stacks: &[&str]) -> Infra {
        require_bin("terraform");
        let i = Infra {
            dir: tempfile::tempdir().unwrap(),
        };
        let bin = i
            .mirror()
            .join(PROVIDER)
            .join("terraform-provider-fake_v1.0.0");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        write_executable(&bin, "#!/bin/sh\nexit 1\n");
        std::fs::write(
            i.dir.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
                i.mirror().display()
            ),
        )
        .unwrap();
        let root = i.root();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("terragrunt.hcl"),
            "locals {\n  tier0_stacks = []\n}\n",
        )
        .unwrap();
        for s in stacks {
            let d = root.join("stacks").join(s);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(
                d.join("main.tf"),
                "terraform {\n  required_providers {\n    fake = { source = \"test/fake\", version = \"1.0.0\" }\n  }\n}\n",
            )
            .unwrap();
        }
        i
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn mirror(&self) -> PathBuf {
        self.dir.path().join("mirror")
    }

    fn init(&self, stack: &str, env: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(TG);
        cmd.args(["init", "--stack", stack, "-input=false", "-no-color"])
            .current_dir(self.root())
            .env("HOME", self.dir.path())
            .env("TG_ENGINE", "terraform")
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("PG_CONN_STR", "postgres://unused")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TG_PLUGIN_CACHE_DIR")
            .env_remove("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        output_text(&out)
    }
}

fn installed_from(stack_dir: &Path) -> PathBuf {
    let p = stack_dir.join(".terraform/providers").join(PROVIDER);
    std::fs::read_link(&p).unwrap_or(p)
}

#[test]
fn second_stack_installs_nothing_from_the_mirror() {
    let i = Infra::new(&["one", "two", "three"]);
    let cache = i.root().join(".tg/plugin-cache");

    let first = i.init("one", &[]);
    assert!(first.contains("Installing test/fake v1.0.0"), "{first}");
    assert!(
        cache
            .join(PROVIDER)
            .join("terraform-provider-fake_v1.0.0")
            .is_file(),
        "the first init filled the default cache under .tg/:\n{first}"
    );

    let second = i.init("two", &[]);
    assert!(
        second.contains("Using test/fake v1.0.0 from the shared cache directory")
            && !second.contains("Installing test/fake"),
        "{second}"
    );
    assert_eq!(
        installed_from(&i.root().join("stacks/two")),
        cache.join(PROVIDER),
        "the second stack links the cached package"
    );

    // TG_PLUGIN_CACHE_DIR=off: no cache, the mirror installs again.
    let third = i.init("three", &[("TG_PLUGIN_CACHE_DIR", "off")]);
    assert!(third.contains("Installing test/fake v1.0.0"), "{third}");

    // The user's own TF_PLUGIN_CACHE_DIR wins over tg's default.
    let own = i.dir.path().join("own-cache");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::remove_dir_all(i.root().join("stacks/three/.terraform")).unwrap();
    let out = i.init(
        "three",
        &[
            ("TF_PLUGIN_CACHE_DIR", own.to_str().unwrap()),
            ("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE", "1"),
        ],
    );
    assert!(out.contains("Installing test/fake"), "{out}");
    assert!(
        own.join(PROVIDER)
            .join("terraform-provider-fake_v1.0.0")
            .is_file()
    );
}
