#!/usr/bin/env bash
# CI check (ctest label unit): the fleet playbook deploy/ansible/upgrade.yml
#  1. parses (ansible-playbook --syntax-check with the example inventory);
#  2. run against three fake hosts (local connection; tests/fleet/fake-initos
#     stands in for initos on the hosts and the controller, fake-ssh for the
#     controller's ssh), one host per batch, where the second host comes back
#     on its old version: the first host is upgraded and marked good, the
#     play fails at the second (never marked good), and the third is never
#     touched.
# ansible-core comes from Debian (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if ! command -v ansible-playbook >/dev/null; then
  echo "check-playbook: ansible-playbook missing; run scripts/setup.sh (installs ansible-core)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ANSIBLE_LOCAL_TEMP=$tmp/ansible ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False
ansible-playbook --syntax-check -i deploy/ansible/inventory.example.ini deploy/ansible/upgrade.yml

fake=$repo/tests/fleet/fake-initos
{
  echo "[initos]"
  for h in h1 h2 h3; do
    echo "$h ansible_connection=local ansible_python_interpreter=$(command -v python3) initos='$fake $h'"
  done
} >"$tmp/inventory.ini"
export FLEET_STATE=$tmp/state FLEET_BAD=h2
mkdir -p "$FLEET_STATE"
touch "$tmp/os.bundle"
set +e
ansible-playbook -i "$tmp/inventory.ini" deploy/ansible/upgrade.yml -e bundle="$tmp/os.bundle" \
  -e ssh_command="$repo/tests/fleet/fake-ssh" -e '{"boot_id_command": "{{ initos }} boot-id"}' \
  -e '{"reboot_command": "{{ initos }} reboot"}' -e boot_poll_s=1 -e boot_timeout_s=20 >"$tmp/play.log" 2>&1
rc=$?
set -e
fail() { echo "check-playbook: $*" >&2; cat "$tmp/play.log" >&2; echo "host log:" >&2; cat "$FLEET_STATE/log" >&2; exit 1; }
((rc != 0)) || fail "the play succeeded although h2 came back on its old version"
want=$'h1 push\nh1 reboot\nh1 mark-good\nh2 push\nh2 reboot'
[[ $(cat "$FLEET_STATE/log") == "$want" ]] || fail "expected exactly: $want"
grep -q "h2 did not come back on version 2" "$tmp/play.log" || fail "no failure message for h2"
echo "check-playbook: syntax ok; h1 upgraded, stopped at h2, h3 untouched"
