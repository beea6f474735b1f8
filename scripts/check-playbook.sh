#!/usr/bin/env bash
# CI check (ctest label unit): the fleet playbook deploy/ansible/upgrade.yml
# parses (ansible-playbook --syntax-check with the example inventory).
# ansible-core comes from Debian (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ansible-playbook >/dev/null; then
  echo "check-playbook: ansible-playbook missing; run scripts/setup.sh (installs ansible-core)" >&2
  exit 1
fi
export ANSIBLE_LOCAL_TEMP=${TMPDIR:-/tmp}/initos-ansible-$$ ANSIBLE_NOCOLOR=1
trap 'rm -rf "$ANSIBLE_LOCAL_TEMP"' EXIT
ansible-playbook --syntax-check -i deploy/ansible/inventory.example.ini deploy/ansible/upgrade.yml
